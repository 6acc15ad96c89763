/**
 * Forward + backward of a BERT-base-sized encoder (12 layers, d=768, 12 heads, ff 3072, exact GELU,
 * learned positions, token types, embedding LayerNorm, pooler; batch 8, seq 128, dropout 0.1, train
 * mode) in mtl-torch (the layout mt.pretrained.encoder builds from a BERT checkpoint, here with
 * random weights: nothing is downloaded) and in PyTorch eager (bert.py: Hugging Face's BertModel
 * computation from test/reference/hf_models.py), spawned in the same run with the same threads.
 * Prints the median ms per iteration of each and the ratio PyTorch / mtl-torch (> 1: mtl-torch is
 * faster).
 *
 *   npm run bench:bert -- [--threads 2] [--rounds 3] [--iterations 3] [--warmup 1]
 *
 * Rounds alternate (mtl-torch, PyTorch, PyTorch with glibc told to keep freed memory, ...) so that
 * load changes hit all sides alike; medians are over every timed iteration of all rounds.
 */
import path from 'node:path';
import * as mt from '../../lib/index.ts';
import { compareRounds, roundsArguments } from './common.ts';

const hf = {
  model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
  hidden_act: 'gelu', pad_token_id: 0,
};
const config = {
  ...roundsArguments({ iterations: 3, warmup: 1 }),
  batch: 8, seq: 128, hf,
};

mt.setNumThreads(config.threads);
mt.manualSeed(0);
// What mt.pretrained.encoder builds from bert-base-uncased's config.json.
const model = mt.multitask({
  input: { vocabSize: hf.vocab_size, maxLength: hf.max_position_embeddings, padId: 0 },
  encoder: {
    numLayers: 12, dModel: 768, nhead: 12, dimFeedforward: 3072, dropout: 0.1, attentionDropout: 0.1, activationDropout: 0,
    activation: 'gelu', layerNormEps: 1e-12, positions: 'learned', typeVocabSize: 2, embeddingNorm: true, pooler: true,
  },
  tasks: { t: mt.tasks.regression() },
});
model.train();
const params = model.parameters();
const inputIds = mt.randint(5, hf.vocab_size, [config.batch, config.seq]);
const tokenTypeIds = mt.arange(config.seq).ge(config.seq / 2).long().unsqueeze(0).expand([config.batch, config.seq]).contiguous();

compareRounds(`BERT-base encoder fwd+bwd (12x768, 12 heads, ff 3072, batch ${config.batch}, seq ${config.seq}, train mode)`, config, () => {
  mt.tidy(() => {
    const { hidden, pooled } = model.encode({ inputIds, tokenTypeIds });
    hidden.mean().add(pooled!.mean()).backward();
  });
  for (const p of params) p.zeroGrad();
}, path.join(import.meta.dirname, 'bert.py'), config);
