// @ts-check
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "cdktf.out/**", "lib/gen/**", "node_modules/**", ".jest-tmp/**", "**/*.js", "**/*.mjs"] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            "@cdktf/provider-aws",
            "@cdktf/provider-docker",
            "@cdktf/provider-vsphere",
            "@cdktf/provider-random",
            "@cdktf/provider-tls",
            "@cdktf/provider-cloudinit",
          ].map((name) => ({ name, message: "Import per resource: @cdktf/provider-x/lib/<resource>." })),
        },
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
