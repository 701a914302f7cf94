import * as os from 'node:os';
import { mean } from '../lib/stats.js';

/** The machine a study ran on, recorded in results.json so that a re-rendered report names it, not the renderer's. */
export interface Machine {
  cores: number;
  cpu: string;
}

/** This machine, as a study records it. */
export const thisMachine = (): Machine => ({ cores: os.cpus().length, cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU' });

/** 1-minute load averages of the machine during a run, and how they were taken. */
export interface MachineLoad {
  source: string;
  samples: number[];
}

/** A sentence on the machine's load during a run: whether other work shared its cores, so that times are read right. */
export function loadSentence(load: MachineLoad | undefined, cores: number): string {
  if (!load || load.samples.length === 0) return 'The machine\'s load during the run was not recorded.';
  const avg = mean(load.samples), max = Math.max(...load.samples);
  const figures = `1-minute load average ${avg.toFixed(1)} on average, ${max.toFixed(1)} at most, on ${cores} cores`;
  return avg > cores
    ? `Other work shared the cores during this run (${figures}), so every time below is longer than on an idle machine.`
    : `The machine was not oversubscribed during the run (${figures}).`;
}

/**
 * A load record that samples os.loadavg() now and then at most once a minute when `tick` is called (from a long
 * run's progress callbacks, which fire whether the work runs in this thread or in workers), plus once at `end`.
 */
export function loadSampler(): { tick: () => void; end: () => MachineLoad } {
  const load: MachineLoad = { source: 'os.loadavg() 1-minute average, sampled at the start, every minute and at the end', samples: [os.loadavg()[0]] };
  let last = Date.now();
  return {
    tick: () => {
      if (Date.now() - last < 60000) return;
      last = Date.now();
      load.samples.push(os.loadavg()[0]);
    },
    end: () => (load.samples.push(os.loadavg()[0]), load),
  };
}
