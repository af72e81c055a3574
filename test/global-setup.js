// Each cdktf Testing.app() leaves a cdktf.outdir.* directory in the temp dir; keep them in the
// project (.jest-tmp) and remove them at the end (reference/toolchain.md §4).
const fs = require("fs");
const path = require("path");
module.exports = async () => {
  const dir = path.join(__dirname, "..", ".jest-tmp");
  fs.mkdirSync(dir, { recursive: true });
  process.env.TMPDIR = dir;
  process.env.CHECKPOINT_DISABLE = "1";
};
