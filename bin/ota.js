#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by the setup script).
// A failure is one line on stderr and exit 1; --verbose (or OTA_VERBOSE=1) adds the full error.
const verbose = process.argv.includes('--verbose') || /^(1|true|yes)$/i.test(process.env.OTA_VERBOSE ?? '');
// The AWS SDK warns in nine lines about a Node release this project does not use yet.
if (!verbose) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
let cli;
try {
  cli = await import('../dist/cli/ota.js');
} catch (err) {
  console.error(`ota: cannot load the compiled CLI (${err?.code ?? err?.message ?? err}); run \`node tools/setup.mjs\` (or \`npm run build\`) first`);
  if (verbose) console.error(err);
  process.exit(1);
}
const fail = (err) => {
  console.error(cli.failureReport(err, { argv: process.argv, verbose }));
  process.exit(1);
};
// A rejection or a throw outside the command's own promise (a closing connection, a worker's
// callback) is reported the same way, never as Node's own trace.
process.on('unhandledRejection', fail);
process.on('uncaughtException', fail);
cli.main(process.argv).catch(fail);
