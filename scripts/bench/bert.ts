/**
 * Forward + backward of a BERT-base-sized encoder (12 layers, d=768, 12 heads, ff 3072, exact GELU,
 * learned positions, token types, embedding LayerNorm, pooler; batch 8, seq 128, dropout 0.1, train
 * mode) in mtl-torch (the layout mt.pretrained.encoder builds from a BERT checkpoint, here with
 * random weights: nothing is downloaded) and in PyTorch eager (bert.py: Hugging Face's BertModel
 * computation from test/parity/oracles/hf_models.py), spawned in the same run with the same threads.
 * Prints the median ms per iteration of each and the ratio PyTorch / mtl-torch (> 1: mtl-torch is
 * faster).
 *
 *   npm run bench:bert -- [--threads 2] [--rounds 3] [--iterations 3] [--warmup 1]
 *
 * MTL_TORCH_BENCH_SMOKE=1: 1 round of 1 iteration after 1 warm-up, a 2-layer d=128 model of the
 * same layout (vocabulary 1000), batch 2 of 16 positions.
 *
 * Rounds alternate (mtl-torch, PyTorch, PyTorch with glibc told to keep freed memory, ...) so that
 * load changes hit all sides alike; medians are over every timed iteration of all rounds.
 */
import path from 'node:path';
import * as mt from '../../lib/index.ts';
import { compareRounds, roundsArguments, smoke } from './common.ts';

const hf = {
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  hidden_act: 'gelu',
  pad_token_id: 0,
  ...(smoke ? { vocab_size: 1000, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 } : {}),
};
const config = {
  ...roundsArguments({ iterations: 3, warmup: 1 }),
  batch: smoke ? 2 : 8,
  seq: smoke ? 16 : 128,
  hf,
};

mt.setNumThreads(config.threads);
mt.manualSeed(0);
// What mt.pretrained.encoder builds from bert-base-uncased's config.json.
const model = mt.multitask({
  input: { vocabSize: hf.vocab_size, maxLength: hf.max_position_embeddings, padId: 0 },
  encoder: {
    numLayers: hf.num_hidden_layers,
    dModel: hf.hidden_size,
    nhead: hf.num_attention_heads,
    dimFeedforward: hf.intermediate_size,
    dropout: 0.1,
    attentionDropout: 0.1,
    activationDropout: 0,
    activation: 'gelu',
    layerNormEps: 1e-12,
    positions: 'learned',
    typeVocabSize: 2,
    embeddingNorm: true,
    pooler: true,
  },
  tasks: { t: mt.tasks.regression() },
});
model.train();
const params = model.parameters();
const inputIds = mt.randint(5, hf.vocab_size, [config.batch, config.seq]);
const tokenTypeIds = mt
  .arange(config.seq)
  .ge(config.seq / 2)
  .long()
  .unsqueeze(0)
  .expand([config.batch, config.seq])
  .contiguous();

const size = `${hf.num_hidden_layers}x${hf.hidden_size}, ${hf.num_attention_heads} heads, ff ${hf.intermediate_size}`;
compareRounds(
  `BERT-base-layout encoder fwd+bwd (${size}, batch ${config.batch}, seq ${config.seq}, train mode)`,
  config,
  () => {
    mt.tidy(() => {
      const { hidden, pooled } = model.encode({ inputIds, tokenTypeIds });
      hidden.mean().add(pooled!.mean()).backward();
    });
    for (const p of params) p.zeroGrad();
  },
  path.join(import.meta.dirname, 'bert.py'),
  config,
);
