/** `operon init [name] [--template hello]`: a new app folder that builds, starts and passes its tests. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { CliCommand } from '../cli-command.js';
import { displayPath } from '../app/display-path.js';
import { OperonCliTargetNotEmptyError, OperonCliTemplateNotFoundError } from '../errors.js';
import { validateAppName } from '../scaffold/app-name.js';
import { templatesDir, workspaceRoot } from '../scaffold/cli-home.js';
import { copyTemplate, personalize } from '../scaffold/copy-template.js';

const DEFAULT_NAME = 'operon-app';

interface InitOptions {
  template: string;
}

export async function initApp(nameArg: string | undefined, options: InitOptions): Promise<void> {
  const target = resolve(nameArg ?? (await askName()));
  const appName = basename(target);
  validateAppName(appName);
  const template = templateFolder(options.template);
  assertEmptyTarget(target);
  copyTemplate(template, target);
  personalize(target, appName);

  const root = workspaceRoot();
  const shown = displayPath(target);
  const lines = [
    `created ${shown} from the ${options.template} template`,
    ...(root === undefined ? [] : [`(it depends on this repository's packages through file: links to ${join(root, 'packages')})`]),
    '',
    'next:',
    ...(shown === '.' ? [] : [`  cd ${shown}`]),
    '  npm install',
    '  npm run build',
    '  npm run migrate',
    '  npm start',
    '',
    'then see README.md there for what to try',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Asks for a name only when someone can answer: never in CI or when stdin is not a terminal. */
async function askName(): Promise<string> {
  if (!process.stdin.isTTY || process.env.CI) return DEFAULT_NAME;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = (await rl.question(`app name (${DEFAULT_NAME}): `)).trim();
    return answer === '' ? DEFAULT_NAME : answer;
  } finally {
    rl.close();
  }
}

function templateFolder(name: string): string {
  const dir = templatesDir();
  const available = existsSync(dir) ? readdirSync(dir).filter((entry) => existsSync(join(dir, entry, 'package.json'))).sort() : [];
  if (!available.includes(name)) throw new OperonCliTemplateNotFoundError(name, available);
  return join(dir, name);
}

/** An existing folder is fine if empty, or holding only a `.git` folder (`git init` first is common). */
function assertEmptyTarget(target: string): void {
  if (!existsSync(target)) return;
  if (!statSync(target).isDirectory()) throw new OperonCliTargetNotEmptyError(displayPath(target), 'exists and is not a folder');
  const entries = readdirSync(target).filter((entry) => entry !== '.git');
  if (entries.length > 0) {
    throw new OperonCliTargetNotEmptyError(displayPath(target), `is not empty (it holds ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'})`);
  }
}

const init: CliCommand = {
  order: 10,
  register(program: Command): void {
    program
      .command('init')
      .description('create a new Operon app from a template, in a new (or empty) folder')
      .argument('[name]', `the folder to create; its last part is the app name (default: ${DEFAULT_NAME})`)
      .option('-t, --template <template>', 'the template to copy', 'hello')
      .action((name: string | undefined, options: InitOptions) => initApp(name, options));
  },
};

export default init;
