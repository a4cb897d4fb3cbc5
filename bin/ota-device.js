#!/usr/bin/env node
// Thin launcher for the device client (compiled to dist/ by `npm run build`).
import { main } from '../dist/cli/ota-device.js';
main(process.argv).catch((err) => {
  console.error(`ota-device: ${err?.message ?? err}`);
  process.exit(1);
});
