import { runCli } from './runCli';

/** `npm run hepex -- <command> [options]`: runCli on this process's arguments and streams. */
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  signal: controller.signal,
});
