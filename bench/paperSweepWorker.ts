import { NETWORKS } from './paperNetworks';
import { pruneNetwork, type SweepThreadJob } from './paperSweep';
import { loadMnistSplit } from '../src/engines/tfjs/mnistNode';
import { loadFashionMnistSplit } from '../src/engines/tfjs/fashionMnist';
import { serveThreadJob } from './threadJob';

/**
 * Worker entry of bench paper's pool (`--workers`): one network's pruning sweeps in this thread,
 * on its own copy of the network's data set (the same seeded split the main thread loads).
 */
serveThreadJob(async (job: SweepThreadJob, progress) => {
  const entry = NETWORKS.find((n) => n.id === job.id)!;
  const data =
    entry.data === 'fashion-mnist' ? await loadFashionMnistSplit() : await loadMnistSplit();
  return pruneNetwork(entry, data, job.modelsDir, job.quick, job.baseShapes, progress);
});
