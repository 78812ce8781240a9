import { HepexError, isHepexError } from '../core/model/errors';
import type { Command } from './command';

/**
 * The CLI without the process around it: `main.ts` runs it on process.argv and sets the exit
 * code; tests run it in-process with their own streams. Each command lives in
 * commands/<name>.ts and is loaded lazily, so `cost` does not pay for tfjs or SEAL start-up.
 */
export const commands: Record<string, () => Promise<{ command: Command }>> = {
  cost: () => import('./commands/cost'),
  advise: () => import('./commands/advise'),
  train: () => import('./commands/train'),
  convert: () => import('./commands/convert'),
  eval: () => import('./commands/eval'),
  prune: () => import('./commands/prune'),
  sweep: () => import('./commands/sweep'),
  worker: () => import('./commands/worker'),
  infer: () => import('./commands/infer'),
  calibrate: () => import('./commands/calibrate'),
  export: () => import('./commands/export'),
};

export interface CliStreams {
  /** Results: one JSON object per run under --json, else text for people. */
  stdout(text: string): void;
  /** Progress and error messages for people. */
  stderr(text: string): void;
  readonly signal: AbortSignal;
}

function usage(): string {
  return [
    'usage: npm run hepex -- <command> [options] [--json]',
    '',
    `commands: ${Object.keys(commands).join(', ')}`,
    'run a command with --help for its options',
  ].join('\n');
}

/** Error output: one JSON object on stdout under --json, the message on stderr always. */
function report(error: HepexError, name: string, json: boolean, io: CliStreams): void {
  if (json)
    io.stdout(JSON.stringify({ error: { code: error.code, message: error.message } }) + '\n');
  io.stderr(`hepex${name ? ` ${name}` : ''}: ${error.message}\n`);
}

/**
 * Runs one command line; resolves to the exit code: 0 done, 1 a HepexError (bad input,
 * impossible parameters), 2 usage (no or unknown command). Anything else is a bug and rejects.
 */
export async function runCli(argv: readonly string[], io: CliStreams): Promise<number> {
  const [name, ...rest] = argv;
  const json = argv.includes('--json');
  if (!name || name === '--help' || name === 'help') {
    io.stdout(usage() + '\n');
    return name ? 0 : 2;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    // Printable: a hostile argument may hold control characters or be megabytes long.
    const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
    const error = new HepexError(
      'invalid-argument',
      `Unknown command ${shown}; commands: ${Object.keys(commands).join(', ')}.`,
    );
    if (json) report(error, '', true, io);
    else io.stderr(`hepex: unknown command ${shown}\n\n${usage()}\n`);
    return 2;
  }
  const { command } = await load();
  if (rest.includes('--help')) {
    io.stdout(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  try {
    const result = await command.run(
      rest.filter((a) => a !== '--json'),
      { progress: (m) => io.stderr(m + '\n'), signal: io.signal },
    );
    io.stdout((json ? JSON.stringify(result.json) : result.text) + '\n');
    return 0;
  } catch (error) {
    if (!isHepexError(error)) throw error;
    report(error, name, json, io);
    return 1;
  }
}
