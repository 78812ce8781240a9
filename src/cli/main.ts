import { isHepexError } from '../core/model/errors';
import type { Command } from './command';

/**
 * `npm run hepex -- <command> [options]`. Each command lives in commands/<name>.ts and is
 * loaded lazily, so `cost` does not pay for tfjs or SEAL start-up.
 */
const commands: Record<string, () => Promise<{ command: Command }>> = {
  cost: () => import('./commands/cost'),
  advise: () => import('./commands/advise'),
  train: () => import('./commands/train'),
  convert: () => import('./commands/convert'),
  eval: () => import('./commands/eval'),
  prune: () => import('./commands/prune'),
  sweep: () => import('./commands/sweep'),
  infer: () => import('./commands/infer'),
  calibrate: () => import('./commands/calibrate'),
  export: () => import('./commands/export'),
};

function usage(): string {
  return [
    'usage: npm run hepex -- <command> [options] [--json]',
    '',
    `commands: ${Object.keys(commands).join(', ')}`,
    'run a command with --help for its options',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`hepex: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const { command } = await load();
  if (rest.includes('--help')) {
    process.stdout.write(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  const json = rest.includes('--json');
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    const result = await command.run(
      rest.filter((a) => a !== '--json'),
      { progress: (m) => process.stderr.write(m + '\n'), signal: controller.signal },
    );
    process.stdout.write((json ? JSON.stringify(result.json) : result.text) + '\n');
    return 0;
  } catch (error) {
    if (isHepexError(error)) {
      if (json)
        process.stdout.write(
          JSON.stringify({ error: { code: error.code, message: error.message } }) + '\n',
        );
      process.stderr.write(`hepex ${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
