/**
 * Pretrained encoders from Hugging Face model directories: `config.json` + `model.safetensors`
 * (+ `tokenizer.json` or `vocab.txt`), for the families native/core/model/pretrained/ registers
 * (BERT, RoBERTa, XLM-R, ELECTRA's discriminator, DistilBERT).
 *
 *   mt.multitask({ encoder: mt.pretrained.encoder('bert-base-uncased'), tasks: { ... } })
 *   const tokenizer = mt.pretrained.tokenizer('bert-base-uncased')
 *
 * The directory is checked here (files, pickle checkpoints, model_type); the checkpoint's
 * architecture and weights are read natively, where a config/weights mismatch is refused naming
 * the tensors and shapes. Nothing is downloaded and no pickle is ever executed.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { SubwordTokenizer } from '../data/tokenizers.ts';
import { native } from '../native.ts';
import { fraction, nonEmptyString, parse, positiveInt, registry } from '../schema.ts';
import { describe } from '../validate.ts';
import { readTextFile } from '../files.ts';

/** `encoder: { pretrained: dir, layers?, dropout? }` in a spec or a run config. */
export const PretrainedEncoderSchema = z.strictObject({
  /** A Hugging Face model directory (config.json, model.safetensors). */
  pretrained: nonEmptyString,
  /** Keep only the first k encoder layers (default: all). */
  layers: positiveInt.optional(),
  /** Replaces the checkpoint's hidden and attention dropout (default: config.json's). */
  dropout: fraction.optional(),
});
export type PretrainedEncoderSpec = z.input<typeof PretrainedEncoderSchema>;

/** Where a model's encoder came from: config.json keeps it, savePretrained writes the family's layout. */
export interface PretrainedInfo {
  modelType: string;
  /** The directory the weights were read from. */
  source: string;
  /** Its config.json, as written. */
  config: Record<string, unknown>;
}

interface FamilyCapabilities {
  prefix: string;
  layersKey: string;
  tokenTypes: boolean;
}

/** The model types that load (config.json's model_type). */
export const MODEL_TYPES = Object.keys(registry.pretrained);

export function familyOf(modelType: string): FamilyCapabilities {
  return registry.pretrained[modelType]!.capabilities as unknown as FamilyCapabilities;
}

const badCheckpoint = (where: string, message: string) => new TorchError(`${where}: ${message}`, ErrorCode.BAD_CHECKPOINT);

const CONVERT =
  'convert it to safetensors once with PyTorch (no pickle is ever run here): ' +
  "python3 -c \"import torch, safetensors.torch as st; sd = torch.load('pytorch_model.bin', map_location='cpu'); " +
  "st.save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors', metadata={'format': 'pt'})\" " +
  '(or transformers: AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True))';

/** Checks a model directory's files and returns its config.json. */
export function checkDirectory(dir: unknown, where: string): { dir: string; config: Record<string, unknown> } {
  if (typeof dir !== 'string' || dir.length === 0) throw argumentError(where, `'dir' must be a model directory path, got ${describe(dir)}`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new TorchError(
      `${where}: ${dir} is not a directory (a Hugging Face model directory holds config.json and model.safetensors; nothing is downloaded)`,
      ErrorCode.NOT_FOUND,
    );
  }
  const configFile = path.join(dir, 'config.json');
  if (!existsSync(configFile)) throw new TorchError(`${where}: ${dir} has no config.json`, ErrorCode.NOT_FOUND);
  if (!existsSync(path.join(dir, 'model.safetensors'))) {
    const files = readdirSync(dir);
    const pickle = files.find((f) => f === 'pytorch_model.bin' || /\.(bin|pt|pth|ckpt)$/.test(f));
    if (pickle)
      throw badCheckpoint(
        where,
        `${path.join(dir, pickle)} is a pickle checkpoint, which is never loaded (unpickling runs arbitrary code); ${CONVERT}`,
      );
    if (files.includes('model.safetensors.index.json'))
      throw badCheckpoint(where, `${dir} holds a sharded checkpoint (model.safetensors.index.json); save it as one model.safetensors`);
    throw new TorchError(`${where}: ${dir} has no model.safetensors`, ErrorCode.NOT_FOUND);
  }
  const configText = readTextFile(configFile, where);
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (error) {
    throw badCheckpoint(where, `${configFile} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw badCheckpoint(where, `${configFile} is not a JSON object`);
  const modelType = (config as Record<string, unknown>).model_type;
  if (typeof modelType !== 'string') throw badCheckpoint(where, `${configFile} has no "model_type"`);
  if (!MODEL_TYPES.includes(modelType)) {
    throw badCheckpoint(where, `model_type '${modelType}' is not supported (supported: ${MODEL_TYPES.join(', ')})`);
  }
  return { dir, config: config as Record<string, unknown> };
}

/** A pretrained encoder for a spec's `encoder` (checks the directory now). */
export function encoder(dir: string, options: { layers?: number; dropout?: number } = {}): PretrainedEncoderSpec {
  const where = 'pretrained.encoder';
  checkDirectory(dir, where);
  if (typeof options !== 'object' || options === null) throw argumentError(where, `'options' must be an object, got ${describe(options)}`);
  return parse(PretrainedEncoderSchema, { pretrained: dir, ...options }, where);
}

/** The encoder and input of a pretrained reference, as the native model is built from them. */
export function resolveEncoder(
  value: unknown,
  where: string,
): {
  encoder: Record<string, unknown>;
  input: { vocabSize: number; maxLength: number; padId: number };
  pretrained: PretrainedInfo;
} {
  const ref = parse(PretrainedEncoderSchema, value, where);
  checkDirectory(ref.pretrained, where);
  const read = native.readPretrained(ref.pretrained);
  const total = read.encoder.numLayers;
  if (ref.layers !== undefined && ref.layers > total) {
    throw argumentError(`${where}.layers`, `(${ref.layers}) exceeds the checkpoint's ${total} layers`);
  }
  const dropout = ref.dropout === undefined ? {} : { dropout: ref.dropout, attentionDropout: ref.dropout };
  return {
    encoder: { ...read.encoder, numLayers: ref.layers ?? total, ...dropout },
    input: { vocabSize: read.input.vocabSize, maxLength: read.input.maxLength, padId: read.input.padId },
    pretrained: { modelType: read.modelType, source: path.resolve(ref.pretrained), config: read.config },
  };
}

/**
 * The tokenizer of a model directory: its tokenizer.json, or its vocab.txt (WordPiece; lower-cased
 * unless tokenizer_config.json says do_lower_case false). A tokenizer with more ids than the
 * checkpoint's embedding table is refused.
 */
export function tokenizer(dir: string): SubwordTokenizer {
  const where = 'pretrained.tokenizer';
  const { config } = checkDirectory(dir, where);
  let result: SubwordTokenizer;
  const json = path.join(dir, 'tokenizer.json');
  const vocab = path.join(dir, 'vocab.txt');
  if (existsSync(json)) {
    result = SubwordTokenizer.fromFile(json);
  } else if (existsSync(vocab)) {
    let lowercase = true;
    const settings = path.join(dir, 'tokenizer_config.json');
    if (existsSync(settings)) {
      const settingsText = readTextFile(settings, where);
      try {
        const parsed = JSON.parse(settingsText) as { do_lower_case?: unknown };
        if (typeof parsed.do_lower_case === 'boolean') lowercase = parsed.do_lower_case;
      } catch (error) {
        throw badCheckpoint(where, `${settings} is not valid JSON (${(error as Error).message})`);
      }
    }
    result = SubwordTokenizer.fromVocab(vocab, { lowercase });
  } else {
    throw new TorchError(
      `${where}: ${dir} has neither tokenizer.json nor vocab.txt (save the fast tokenizer's tokenizer.json with the model)`,
      ErrorCode.NOT_FOUND,
    );
  }
  const rows = Number(
    (config as { vocab_size?: unknown }).vocab_size ?? registry.pretrained[config.model_type as string]!.defaults.vocab_size,
  );
  if (result.vocabSize > rows) {
    throw badCheckpoint(
      where,
      `the tokenizer has ${result.vocabSize} ids but the embedding table (config.json vocab_size) has ${rows} rows`,
    );
  }
  return result;
}
