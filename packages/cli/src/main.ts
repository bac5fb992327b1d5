/**
 * Entry point of `msp`. Each command group registers its commands from its own module; the work of a
 * command is imported only when it runs, so `msp --help` loads little more than commander.
 */
import { Command, CommanderError } from 'commander';
import { MSP_VERSION } from '@msp/core/version';
import { registerCommands } from './commands/index.js';

const program = new Command('msp')
  .description(
    'MSP, the Managed Services Platform: runs, backs up, rolls out and documents the deployments of a platform repo.',
  )
  .version(MSP_VERSION)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; any usage mistake (unknown command or option, missing argument) is bad input.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  throw error;
}
