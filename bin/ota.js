#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by the setup script).
import { main } from '../dist/cli/ota.js';
main(process.argv).catch((err) => {
  console.error(`ota: ${err?.message ?? err}`);
  process.exit(1);
});
