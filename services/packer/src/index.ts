/** @batchbridge/packer — packs queued requests into provider batches, crash-safe. */
export { CRASH_POINTS, type CrashPoint, crashAt, isCrashPoint } from './crash-points.js';
export { createLaneProcessor } from './lanes/lane-processor.js';
export { laneSweep } from './lanes/lane-sweep.js';
export { type PackerOptions, startPacker } from './packer.js';
