/**
 * Every garbage-collection module, in collection order. A new store plugs in here: one
 * module that reads its index, says what it holds on to, and plans its garbage.
 */
import type { GcModule } from '../module.ts';
import { imagesModule } from './images.ts';
import { logsModule } from './logs.ts';
import { networksModule } from './networks.ts';
import { snapshotsModule } from './snapshots.ts';
import { tmpModule } from './tmp.ts';
import { vmsModule } from './vms.ts';

export const MODULES: readonly GcModule[] = [tmpModule, vmsModule, snapshotsModule, imagesModule, networksModule, logsModule] as GcModule[];
