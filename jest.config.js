/** @type {import('jest').Config} */
const transform = {
  "^.+\\.ts$": [
    "@swc/jest",
    {
      jsc: { parser: { syntax: "typescript" }, target: "es2022" },
      module: { type: "commonjs" },
    },
  ],
};
const common = {
  testEnvironment: "node",
  transform,
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
};
module.exports = {
  globalSetup: "<rootDir>/test/global-setup.js",
  globalTeardown: "<rootDir>/test/global-teardown.js",
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      testPathIgnorePatterns: ["/test/system/"],
    },
    { ...common, displayName: "system", testMatch: ["<rootDir>/test/system/**/*.test.ts"] },
  ],
};
