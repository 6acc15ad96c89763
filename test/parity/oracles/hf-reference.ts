/**
 * Small random Hugging Face checkpoints made by the PyTorch reference (test/parity/oracles/hf_models.py)
 * and its forward/backward runs, for the pretrained-encoder tests. Every spec and job of a test
 * file goes to ONE Python process.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mt from '../../../lib/index.ts';
import { PYTHON } from './multitask-twin.ts';

const SCRIPT = fileURLToPath(new URL('./hf_models.py', import.meta.url));
export const FIXTURE_VOCAB = fileURLToPath(new URL('../../fixtures/tokenizers/vocab.txt', import.meta.url));

export interface CheckpointSpec {
  dir: string;
  config: Record<string, unknown>;
  seed?: number;
  scale?: number;
  /** 'bert.' (a task model's file) or '' (the base model's own). */
  prefix?: string;
  /** Tensors outside the encoder (a task head's), name -> shape. */
  extra?: Record<string, number[]>;
  pooler?: boolean;
  vocab?: string[];
  tokenizerJson?: string;
}

function python(command: 'make' | 'run' | 'pretrain', items: object[], dir: string): string {
  const file = path.join(dir, `${command}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(items));
  return execFileSync(PYTHON, [SCRIPT, command, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
}

export interface PretrainSpec {
  dir: string;
  /** A BERT config.json. */
  config: Record<string, unknown>;
  vocab: string[];
  /** Sentences of whitespace-separated vocab tokens. */
  corpus: string[];
  steps: number;
  batch: number;
  lr: number;
  maskProbability: number;
  seed: number;
}

/**
 * Masked-language-model pretraining by the reference, as BertForMaskedLM does it; each directory is
 * written in BertForMaskedLM's layout (bert.*, cls.predictions.*) with vocab.txt. Returns each run's
 * mean masked-token loss over its first and last 50 steps.
 */
export function pretrainMaskedLanguageModels(
  specs: PretrainSpec[],
  scratch: string,
): { dir: string; firstLoss: number; lastLoss: number }[] {
  return python('pretrain', specs, scratch)
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

export function makeCheckpoints(specs: CheckpointSpec[], scratch: string): void {
  python('make', specs, scratch);
}

export interface ReferenceJob {
  dir: string;
  inputs: string;
  output: string;
  grads?: boolean;
}

/** Runs every job in one process; returns each job's outputs (hidden, pooled?, grad.<HF name>). */
export function runReference(jobs: ReferenceJob[], scratch: string): Record<string, mt.Tensor>[] {
  python('run', jobs, scratch);
  return jobs.map((job) => mt.load(job.output));
}

/** The tokens of the fixture vocab.txt (16 WordPiece tokens, [PAD] 0). */
export function fixtureVocab(): string[] {
  return readFileSync(FIXTURE_VOCAB, 'utf8')
    .split('\n')
    .filter((t) => t.length > 0);
}

/** Small configs of each family (hidden 16, 2 layers, 2 heads), as config.json holds them. */
export function smallConfig(modelType: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const bert = {
    vocab_size: 30,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 24,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    hidden_act: 'gelu',
  };
  switch (modelType) {
    case 'bert':
      return {
        model_type: 'bert',
        architectures: ['BertForSequenceClassification'],
        ...bert,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        pad_token_id: 0,
        ...overrides,
      };
    case 'roberta':
    case 'xlm-roberta':
      return { model_type: modelType, ...bert, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, ...overrides };
    case 'electra':
      return {
        model_type: 'electra',
        ...bert,
        embedding_size: 8,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        pad_token_id: 0,
        ...overrides,
      };
    case 'distilbert':
      return {
        model_type: 'distilbert',
        vocab_size: 30,
        dim: 16,
        n_layers: 2,
        n_heads: 2,
        hidden_dim: 32,
        max_position_embeddings: 24,
        dropout: 0.1,
        attention_dropout: 0.1,
        activation: 'gelu',
        pad_token_id: 0,
        ...overrides,
      };
    default:
      throw new Error(`no small config for ${modelType}`);
  }
}

/**
 * The model's name of a checkpoint tensor (the test's own statement of the mapping): the packed
 * q/k/v projection appears as its three parts, `part` 0..2 (rows part*E..(part+1)*E).
 */
export function ourName(hfName: string): { name: string; part?: number } | undefined {
  const embedding: Record<string, string> = {
    'embeddings.word_embeddings.weight': 'embedding.token.weight',
    'embeddings.position_embeddings.weight': 'embedding.position.weight',
    'embeddings.token_type_embeddings.weight': 'embedding.token_type.weight',
    'embeddings.LayerNorm.weight': 'embedding.norm.weight',
    'embeddings.LayerNorm.bias': 'embedding.norm.bias',
    'embeddings_project.weight': 'embedding.projection.weight',
    'embeddings_project.bias': 'embedding.projection.bias',
    'pooler.dense.weight': 'pooler.weight',
    'pooler.dense.bias': 'pooler.bias',
  };
  if (embedding[hfName]) return { name: embedding[hfName]! };
  const m = /^(?:encoder|transformer)\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  if (!m) return undefined;
  const [, layer, module, kind] = m;
  const packed = [
    'attention.self.query',
    'attention.self.key',
    'attention.self.value',
    'attention.q_lin',
    'attention.k_lin',
    'attention.v_lin',
  ];
  const at = packed.indexOf(module!);
  if (at >= 0) return { name: `encoder.layers.${layer}.self_attn.in_proj_${kind}`, part: at % 3 };
  const plain: Record<string, string> = {
    'attention.output.dense': 'self_attn.out_proj',
    'attention.out_lin': 'self_attn.out_proj',
    'intermediate.dense': 'linear1',
    'ffn.lin1': 'linear1',
    'output.dense': 'linear2',
    'ffn.lin2': 'linear2',
    'attention.output.LayerNorm': 'norm1',
    sa_layer_norm: 'norm1',
    'output.LayerNorm': 'norm2',
    output_layer_norm: 'norm2',
  };
  return plain[module!] ? { name: `encoder.layers.${layer}.${plain[module!]}.${kind}` } : undefined;
}

/** A tensor of ours viewed as the checkpoint tensor `hfName` is (a third of a packed projection). */
export function asCheckpointTensor(ours: mt.Tensor, part: number | undefined): mt.Tensor {
  return part === undefined ? ours : ours.chunk(3, 0)[part]!;
}
