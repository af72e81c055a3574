// Each cdktf Testing.app() leaves a cdktf.outdir.* directory in the temp dir; keep them in a
// per-run directory under the project (.jest-tmp/<pid>) and remove it at the end
// (reference/toolchain.md §4). Per run, so parallel jest runs never delete each other's files.
const fs = require("fs");
const path = require("path");
module.exports = async () => {
  const dir = path.join(__dirname, "..", ".jest-tmp", String(process.pid));
  fs.mkdirSync(dir, { recursive: true });
  process.env.TMPDIR = dir;
  process.env.GRX_JEST_TMP = dir;
  process.env.CHECKPOINT_DISABLE = "1";
};
