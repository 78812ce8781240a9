/**
 * One CLI subcommand. `run` returns the JSON-able result; main prints it as one JSON object
 * (--json) or through `format` as human-readable text.
 */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(argv: readonly string[], io: CommandIo): Promise<CommandResult>;
}

export interface CommandResult {
  readonly json: unknown;
  readonly text: string;
}

export interface CommandIo {
  /** Progress for people, on stderr, never mixed into --json stdout. */
  progress(message: string): void;
  readonly signal: AbortSignal;
}
