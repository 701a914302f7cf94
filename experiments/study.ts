import type { ProgressFactory } from '../lib/progress.js';

/** What every study run takes besides its own parameters: smoke-run flag, output folder, backend, progress. */
export interface StudyRun {
  quick: boolean;
  outDir: string;
  backend: string;
  progress?: ProgressFactory;
}
