import type { Command } from './flags.js';
import { analyticCommand } from './analytic.js';
import { checkCommand } from './check.js';
import { experimentCommand } from './experiment.js';
import { infiniteCommand } from './infinite.js';
import { kernelCommand } from './kernel.js';
import { mergeCommand } from './merge.js';
import { snapshotCommand } from './snapshot.js';

/** The seven commands of `ntk`, one module each, in the order `--help` lists them. */
export const commands: Command[] = [kernelCommand, infiniteCommand, analyticCommand, experimentCommand, snapshotCommand, checkCommand, mergeCommand];
