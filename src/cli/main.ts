/**
 * The `certpin` command: get, convert, check and monitor pins. Each command lives in `commands/` and is imported
 * only when it runs, so that `certpin --help` starts fast. Every error is caught here and printed in plain words,
 * never as a stack trace (set `CERTPIN_DEBUG=1` to see one).
 * @module
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { styleFor } from './style.js';
import { UsageError } from './usage.js';
import { packageVersion } from './version.js';

/** What a command module provides. */
export interface Command {
  /** The command's `--help` text. */
  readonly help: string;
  /** Runs the command with its arguments (after the command name); resolves to the exit code. */
  run(args: readonly string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  fetch: { summary: 'connect to a server and show its chain, pins and fingerprints', load: () => import('./commands/fetch.js') },
  inspect: { summary: 'show or convert certificate files (PEM, DER, .cer, .crt, bundles)', load: () => import('./commands/inspect.js') },
  check: { summary: 'would a connection be accepted with these pins? (exit 0, 1 or 2)', load: () => import('./commands/check.js') },
  init: { summary: 'write a policy file for hosts: intermediate, leaf and backup pins', load: () => import('./commands/init.js') },
  'backup-key': { summary: 'generate a spare key pair and CSR, and print the pin to add now', load: () => import('./commands/backup-key.js') },
  verify: { summary: 'check every host of a policy against its live chain (for CI)', load: () => import('./commands/verify.js') },
  sign: { summary: 'sign a policy\'s pin sets into a document for DynamicPinPolicy', load: () => import('./commands/sign.js') },
  'signing-key': { summary: 'generate a key pair that signs pin-set documents (JWKS for the app)', load: () => import('./commands/signing-key.js') },
};

const MAIN_HELP = `certpin: certificate and public-key pinning, from the command line

Usage: certpin <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`).join('\n')}

Options:
  -h, --help     show help (also: certpin <command> --help)
  -v, --version  print the version

Quick start:
  certpin fetch api.example.com                 # see the chain and its pins
  certpin backup-key --out-key backup.key       # a spare key; keep it offline
  certpin init api.example.com --backup-pin sha256/… --out certpin.json
  certpin verify certpin.json                   # in CI: exit 1 before a pin can break clients

Connecting commands take HOST, HOST:PORT, [IPv6]:PORT or https://URL, --ca FILE, --timeout MS, and honour
NODE_EXTRA_CA_CERTS. Exit codes: 0 ok, 1 refused by pinning / verify failure, 2 any other error.
Colours only on a terminal, never with NO_COLOR.`;

/** Runs the CLI with `argv` (without `node` and the script) and resolves to the exit code. Never rejects. */
export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  let commandName: string | undefined;
  try {
    if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (topic && COMMANDS[topic]) process.stdout.write(`${(await COMMANDS[topic].load()).help}\n`);
      else process.stdout.write(`${MAIN_HELP}\n`);
      return first === undefined ? 2 : 0;
    }
    if (first === '-v' || first === '--version') {
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    const entry = COMMANDS[first];
    if (!entry) {
      const known = Object.keys(COMMANDS);
      const near = known.find((k) => k.startsWith(first.slice(0, 3)));
      throw new UsageError(`unknown command "${first}"${near ? ` (did you mean "${near}"?)` : ''}. Commands: ${known.join(', ')}.`);
    }
    commandName = first;
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${command.help}\n`);
      return 0;
    }
    return await command.run(rest);
  } catch (error) {
    printError(error, commandName);
    return 2;
  }
}

/** Prints an error in one or two plain lines; a stack trace only with `CERTPIN_DEBUG=1`. */
export function printError(error: unknown, command?: string): void {
  const style = styleFor(process.stderr);
  const prefix = style.red(style.bold('certpin:'));
  if (error instanceof UsageError) {
    const cmd = error.command ?? command;
    process.stderr.write(`${prefix} ${error.message}\n${style.dim(`Run "certpin ${cmd ? `${cmd} ` : ''}--help" for usage.`)}\n`);
    return;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string' && code.startsWith('ERR_CERTPIN_')) {
    process.stderr.write(`${prefix} ${error.message}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${prefix} unexpected error: ${message.split('\n')[0]}\n${style.dim('This is a bug in certpin; set CERTPIN_DEBUG=1 for details and report it.')}\n`);
  }
  if (process.env.CERTPIN_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
}

/** Runs the CLI on `process.argv` and sets `process.exitCode`; what `bin/certpin.js` calls. */
export function runCli(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // `certpin fetch … | head`: the reader went away; stop quietly.
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

// `node --import tsx src/cli/main.ts …` and `node dist/cli/main.js …` run it directly.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runCli();
