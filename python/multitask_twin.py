#!/usr/bin/env python3
"""The PyTorch twin of mtl-torch's multi-task model (native/core/model), built from the same
config.json and loading the same model.safetensors, so any saved model runs in PyTorch.

It is written from torch.nn's own blocks (TransformerEncoder/DecoderLayer, MultiheadAttention via
F.multi_head_attention_forward for LoRA), independently of the C++ code, and serves as the test
oracle: test/parity/model-parity.test.ts and test/parity/generation.test.ts compare outputs, losses, gradients and
beam-search results with it.

Library use:
    model = MultiTaskTwin.load("run/model")          # config.json + model.safetensors
    results = model.forward(batch, ["g2p", "stress"])  # {task: (outputs, loss)}
    sequences, scores = model.generate("g2p", batch, beam_size=4)

The tests' job runner (one process per test file, every case batched) is
test/parity/oracles/multitask_twin_jobs.py.

A config naming a sharing scheme or head this twin does not implement is refused (ValueError naming
it); test/parity/registry-kinds.test.ts checks SCHEMES and HEADS against the addon's registry.

The twin stays in training mode: torch's inference fast paths (nested tensors) would change the
numbers at padded positions, and the cases use dropout 0, so training mode computes the same math.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load as load_tensors, save as save_tensors  # noqa: E402


def layer_kwargs(enc):
    # torch's layer has one dropout for every place; the cases that compare run with dropout 0, and
    # attentionDropout / activationDropout only move dropout (BERT-style encoders).
    return dict(d_model=enc["dModel"], nhead=enc["nhead"], dim_feedforward=enc["dimFeedforward"],
                dropout=enc["dropout"], activation=enc["activation"], batch_first=True, norm_first=enc["normFirst"],
                layer_norm_eps=enc.get("layerNormEps", 1e-5))


def encoder_stack(enc, layers):
    return nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kwargs(enc)), layers, enable_nested_tensor=False)


def decoder_stack(enc, layers):
    return nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_kwargs(enc)), layers)


def residual(x, norm, norm_first, block):
    return x + block(norm(x)) if norm_first else norm(x + block(x))


def feed_forward(layer, x):
    return layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(x)))))


class Positions(nn.Module):
    """Sinusoidal table as a buffer `pe` (loaded from the weights), added then dropout."""

    def __init__(self, max_len, d_model, dropout):
        super().__init__()
        self.register_buffer("pe", torch.zeros(max_len, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, offset=0):
        return self.dropout(x + self.pe[offset:offset + x.size(1)])


class InputEmbedding(nn.Module):
    """Tokens or features, plus positions: the sinusoidal table (then dropout), or BERT's layout:
    token + token type + learned position, LayerNorm, dropout, and ELECTRA's projection."""

    def __init__(self, config):
        super().__init__()
        inp, enc = config["input"], config["encoder"]
        self.pad_id = inp["padId"]
        self.enc = enc
        width = enc.get("embeddingSize", 0) or enc["dModel"]
        if inp["features"] > 0:
            self.features = nn.Linear(inp["features"], width)
        else:
            self.token = nn.Embedding(inp["vocabSize"], width, padding_idx=inp["padId"])
        self.offset = enc.get("positionOffset", 0)
        bert_style = enc.get("positions") == "learned" or enc.get("typeVocabSize", 0) > 0 or enc.get("embeddingNorm", False)
        if enc.get("positions") == "learned":
            self.position = nn.Embedding(inp["maxLength"], width, padding_idx=inp["padId"] if self.offset > 0 else None)
        else:
            self.position = Positions(inp["maxLength"], width, 0.0 if bert_style else enc["dropout"])
        if enc.get("typeVocabSize", 0) > 0:
            self.token_type = nn.Embedding(enc["typeVocabSize"], width)
        if enc.get("embeddingNorm", False):
            self.norm = nn.LayerNorm(width, eps=enc["layerNormEps"])
        self.dropout = nn.Dropout(enc["dropout"]) if bert_style else None
        if width != enc["dModel"]:
            self.projection = nn.Linear(width, enc["dModel"])

    def forward(self, batch):
        x = self.features(batch["features"].float()) if hasattr(self, "features") else self.token(batch["inputIds"])
        if isinstance(self.position, Positions):
            x = self.position(x)
        if hasattr(self, "token_type"):
            types = batch.get("tokenTypeIds")
            if types is None or self.enc["typeVocabSize"] == 1:
                types = torch.zeros(x.shape[:2], dtype=torch.long)
            x = x + self.token_type(types.long())
        if isinstance(self.position, nn.Embedding):
            positions = torch.arange(x.size(1)).unsqueeze(0).expand(x.size(0), -1)
            if self.offset > 0:
                real = (~self.padding_mask(batch)).long()
                positions = (torch.cumsum(real, 1) + self.offset - 1) * real + (1 - real) * self.pad_id
            x = x + self.position(positions)
        if hasattr(self, "norm"):
            x = self.norm(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.projection(x) if hasattr(self, "projection") else x

    def padding_mask(self, batch):
        ref = batch["features"] if hasattr(self, "features") else batch["inputIds"]
        if "lengths" in batch:
            return torch.arange(ref.size(1), device=ref.device).unsqueeze(0) >= batch["lengths"].unsqueeze(1)
        return batch["inputIds"] == self.pad_id


# ---- sharing schemes: encode(model, x, mask, tasks) -> {task: memory} ----

class SharedEncoder(nn.Module):
    name = "shared_encoder"

    def __init__(self, config):
        super().__init__()

    def add_task(self, task, config):
        pass

    def encode(self, encoder, x, mask, tasks):
        h = encoder(x, src_key_padding_mask=mask)
        return {t: h for t in tasks}


class FullyShared(nn.Module):
    name = "fully_shared"

    def __init__(self, config):
        super().__init__()
        self.d_model = config["encoder"]["dModel"]

    def add_task(self, task, config):
        holder = nn.Module()
        holder.embedding = nn.Parameter(torch.zeros(self.d_model))
        self.add_module(task, holder)

    def encode(self, encoder, x, mask, tasks):
        stacked = torch.cat([x + getattr(self, t).embedding for t in tasks], 0)
        h = encoder(stacked, src_key_padding_mask=mask.repeat(len(tasks), 1))
        return dict(zip(tasks, h.chunk(len(tasks), 0)))


class Layerwise(nn.Module):
    name = "layerwise"

    def __init__(self, config):
        super().__init__()
        self.own = config["encoder"]["numLayers"] - config["sharing"]["sharedLayers"]

    def add_task(self, task, config):
        if self.own > 0:
            self.add_module(task, encoder_stack(config["encoder"], self.own))

    def encode(self, encoder, x, mask, tasks):
        h = encoder(x, src_key_padding_mask=mask)
        return {t: getattr(self, t)(h, src_key_padding_mask=mask) if self.own > 0 else h for t in tasks}


def per_layer(config, make):
    """A task's modules for each encoder layer, as `<task>.layers.<i>.*` (adapters, LoRA)."""
    holder = nn.Module()
    holder.layers = nn.ModuleList(make() for _ in range(config["encoder"]["numLayers"]))
    return holder


class Bottleneck(nn.Module):
    def __init__(self, d_model, size):
        super().__init__()
        self.down = nn.Linear(d_model, size)
        self.up = nn.Linear(size, d_model)

    def forward(self, h):
        return h + self.up(torch.relu(self.down(h)))


class Adapters(nn.Module):
    name = "adapters"

    def __init__(self, config):
        super().__init__()

    def add_task(self, task, config):
        enc, s = config["encoder"], config["sharing"]

        def layer():
            modules = nn.Module()
            if s["placement"] == "houlsby":
                modules.attention = Bottleneck(enc["dModel"], enc["dModel"] // s["reduction"])
            modules.feed_forward = Bottleneck(enc["dModel"], enc["dModel"] // s["reduction"])
            return modules
        self.add_module(task, per_layer(config, layer))

    def encode(self, encoder, x, mask, tasks):
        out = {}
        for t in tasks:
            h = x
            for layer, adapters in zip(encoder.layers, getattr(self, t).layers):
                after_attention = getattr(adapters, "attention", None) or (lambda v: v)
                h = residual(h, layer.norm1, layer.norm_first, lambda v: after_attention(
                    layer.dropout1(layer.self_attn(v, v, v, key_padding_mask=mask, need_weights=False)[0])))
                h = residual(h, layer.norm2, layer.norm_first, lambda v: adapters.feed_forward(feed_forward(layer, v)))
            out[t] = h
        return out


class Lora(nn.Module):
    name = "lora"

    def __init__(self, config):
        super().__init__()
        s = config["sharing"]
        self.scale = s["alpha"] / s["rank"]

    def add_task(self, task, config):
        enc, s = config["encoder"], config["sharing"]

        def layer():
            modules = nn.Module()
            for target in s["targets"]:
                update = nn.Module()
                update.lora_A = nn.Parameter(torch.zeros(s["rank"], enc["dModel"]))
                update.lora_B = nn.Parameter(torch.zeros(enc["dModel"], s["rank"]))
                modules.add_module(target, update)
            return modules
        self.add_module(task, per_layer(config, layer))

    def attention(self, attn, lora, x, mask):
        e = attn.embed_dim
        rows = []
        for i, name in enumerate("qkv"):
            w = attn.in_proj_weight[i * e:(i + 1) * e]
            if hasattr(lora, name):
                u = getattr(lora, name)
                w = w + self.scale * (u.lora_B @ u.lora_A)
            rows.append(w)
        out_w = attn.out_proj.weight
        if hasattr(lora, "o"):
            out_w = out_w + self.scale * (lora.o.lora_B @ lora.o.lora_A)
        xt = x.transpose(0, 1)
        y, _ = F.multi_head_attention_forward(
            xt, xt, xt, e, attn.num_heads, torch.cat(rows, 0), attn.in_proj_bias, None, None, False,
            attn.dropout, out_w, attn.out_proj.bias, training=self.training, key_padding_mask=mask, need_weights=False)
        return y.transpose(0, 1)

    def encode(self, encoder, x, mask, tasks):
        out = {}
        for t in tasks:
            h = x
            for layer, lora in zip(encoder.layers, getattr(self, t).layers):
                h = residual(h, layer.norm1, layer.norm_first, lambda v: layer.dropout1(self.attention(layer.self_attn, lora, v, mask)))
                h = residual(h, layer.norm2, layer.norm_first, lambda v: feed_forward(layer, v))
            out[t] = h
        return out


class Expert(nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.linear1 = nn.Linear(enc["dModel"], enc["dimFeedforward"])
        self.dropout = nn.Dropout(enc["dropout"])
        self.linear2 = nn.Linear(enc["dimFeedforward"], enc["dModel"])
        self.activation = F.relu if enc["activation"] == "relu" else F.gelu

    def forward(self, h):
        return self.linear2(self.dropout(self.activation(self.linear1(h))))


class Mmoe(nn.Module):
    name = "mmoe"

    def __init__(self, config):
        super().__init__()
        enc, s = config["encoder"], config["sharing"]
        self.experts = nn.ModuleList([Expert(enc) for _ in range(s["experts"])])
        self.norm = nn.LayerNorm(enc["dModel"])
        self.top_k = s["topK"]

    def add_task(self, task, config):
        holder = nn.Module()
        holder.gate = nn.Linear(config["encoder"]["dModel"], config["sharing"]["experts"])
        self.add_module(task, holder)

    def encode(self, encoder, x, mask, tasks):
        h = encoder(x, src_key_padding_mask=mask)
        experts = torch.stack([e(h) for e in self.experts], -1)
        out = {}
        for t in tasks:
            logits = getattr(self, t).gate(h)
            k = self.top_k
            if 0 < k < logits.size(-1):
                kth = logits.topk(k, -1)[0][..., k - 1:k]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            out[t] = self.norm(h + (experts * torch.softmax(logits, -1).unsqueeze(-2)).sum(-1))
        return out


SCHEMES = {"sharedEncoder": SharedEncoder, "fullyShared": FullyShared, "layerwise": Layerwise,
           "adapters": Adapters, "lora": Lora, "mmoe": Mmoe}


# ---- heads ----

def cross_entropy(logits, targets, head):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=head.get("ignoreIndex", -100),
                           label_smoothing=head.get("labelSmoothing", 0.0))


class PooledHead(nn.Module):
    def __init__(self, head, config, shared_decoder, outputs, pooler=None):
        super().__init__()
        d = config["encoder"]["dModel"]
        self.head = head
        self.shared_decoder = [shared_decoder]  # a list, so it is not registered twice
        self.shared_pooler = [pooler]
        if head.get("pooling") == "pretrained":
            self.dropout = nn.Dropout(config["encoder"]["dropout"])
        elif head["decoderLayers"] > 0:
            self.query = nn.Parameter(torch.zeros(1, 1, d))
            if shared_decoder is None:
                self.decoder = decoder_stack(config["encoder"], head["decoderLayers"])
        else:
            self.pooler = nn.Linear(d, d)
        self.out = nn.Linear(d, outputs)

    def pooled(self, memory, mask):
        if self.head.get("pooling") == "pretrained":
            return self.dropout(torch.tanh(self.shared_pooler[0](memory[:, 0])))
        if self.head["decoderLayers"] > 0:
            decoder = self.shared_decoder[0] or self.decoder
            return decoder(self.query.expand(memory.size(0), 1, memory.size(2)), memory, memory_key_padding_mask=mask).squeeze(1)
        keep = (~mask).unsqueeze(-1).to(memory.dtype)
        return torch.tanh(self.pooler((memory * keep).sum(1) / keep.sum(1).clamp_min(1)))

    def forward(self, memory, mask, batch, targets):
        return self.out(self.pooled(memory, mask))


class ClassificationHead(PooledHead):
    def __init__(self, head, config, shared, pooler=None):
        super().__init__(head, config, shared, head["classes"], pooler)

    def loss(self, outputs, targets, mask):
        return cross_entropy(outputs, targets, self.head)


class RegressionHead(PooledHead):
    def __init__(self, head, config, shared, pooler=None):
        super().__init__(head, config, shared, 1, pooler)

    def forward(self, memory, mask, batch, targets):
        return super().forward(memory, mask, batch, targets).squeeze(-1)

    def loss(self, outputs, targets, mask):
        return F.mse_loss(outputs, targets.float())


class MultiLabelHead(PooledHead):
    def __init__(self, head, config, shared, pooler=None):
        super().__init__(head, config, shared, head["labels"], pooler)

    def loss(self, outputs, targets, mask):
        return F.binary_cross_entropy_with_logits(outputs, targets.float())


class TaggingHead(nn.Module):
    def __init__(self, head, config, shared, pooler=None):
        super().__init__()
        self.head = head
        self.out = nn.Linear(config["encoder"]["dModel"], head["classes"])

    def forward(self, memory, mask, batch, targets):
        return self.out(memory)

    def loss(self, outputs, targets, mask):
        targets = targets[:, :outputs.size(1)].masked_fill(mask, self.head.get("ignoreIndex", -100))
        return cross_entropy(outputs, targets, self.head)


class SequenceHead(nn.Module):
    def __init__(self, head, config, shared_decoder, pooler=None):
        super().__init__()
        enc = config["encoder"]
        self.head = head
        self.embedding = nn.Embedding(head["vocabSize"], enc["dModel"], padding_idx=head["padId"])
        self.position = Positions(head["maxLength"] + 1, enc["dModel"], enc["dropout"])
        self.shared_decoder = [shared_decoder]
        if shared_decoder is None:
            self.decoder = decoder_stack(enc, head["decoderLayers"])
        self.out = nn.Linear(enc["dModel"], head["vocabSize"])

    def valid(self, targets):
        h = self.head
        return (targets != h["padId"]) & (targets >= 0) & (targets != h.get("ignoreIndex", -100))

    def decode(self, tokens, memory, mask):
        decoder = self.shared_decoder[0] or self.decoder
        causal = nn.Transformer.generate_square_subsequent_mask(tokens.size(1)).to(tokens.device)
        return self.out(decoder(self.position(self.embedding(tokens)), memory, tgt_mask=causal, memory_key_padding_mask=mask))

    def forward(self, memory, mask, batch, targets):
        bos = torch.full((targets.size(0), 1), self.head["bosId"], dtype=torch.long, device=targets.device)
        shifted = torch.cat([bos, targets.masked_fill(~self.valid(targets), self.head["padId"])], 1)[:, :targets.size(1)]
        return self.decode(shifted, memory, mask)

    def loss(self, outputs, targets, mask):
        return cross_entropy(outputs, targets.masked_fill(~self.valid(targets), self.head.get("ignoreIndex", -100)), self.head)

    def generate(self, memory, mask, beam_size, max_length, length_penalty):
        """Beam search as native/core/model/generation.h documents it (no KV cache here: every step
        re-decodes the whole prefix, which gives the same numbers)."""
        h = self.head
        batch, k = memory.size(0), beam_size
        rows = batch * k
        memory, mask = memory.repeat_interleave(k, 0), mask.repeat_interleave(k, 0)
        scores = torch.zeros(batch, k)
        if k > 1:
            scores[:, 1:] = float("-inf")
        scores = scores.reshape(rows)
        finished = torch.zeros(rows, dtype=torch.bool)
        tokens = torch.full((rows, 1), h["bosId"], dtype=torch.long)
        row_start = (torch.arange(batch) * k).unsqueeze(1)
        for _ in range(max_length):
            log_probs = torch.log_softmax(self.decode(tokens, memory, mask)[:, -1], -1).float()
            vocab = log_probs.size(1)
            only_pad = torch.full((vocab,), float("-inf"))
            only_pad[h["padId"]] = 0.0
            log_probs = torch.where(finished.unsqueeze(1), only_pad.unsqueeze(0), log_probs)
            top_scores, top_index = (scores.unsqueeze(1) + log_probs).reshape(batch, k * vocab).topk(k, 1)
            source = (row_start + torch.div(top_index, vocab, rounding_mode="floor")).reshape(rows)
            new = top_index.remainder(vocab).reshape(rows)
            tokens = torch.cat([tokens[source], new.unsqueeze(1)], 1)
            finished = finished[source] | (new == h["eosId"])
            scores = top_scores.reshape(rows)
            if bool(finished.all()):
                break
        generated = tokens[:, 1:]
        steps = generated.size(1)
        is_eos = generated == h["eosId"]
        lengths = torch.where(is_eos.any(1), is_eos.long().argmax(1) + 1, torch.full((rows,), steps))
        ranking = scores / lengths.float().pow(length_penalty) if length_penalty != 0 else scores
        pick = row_start.squeeze(1) + ranking.reshape(batch, k).argmax(1)
        return generated[pick], scores[pick]


HEADS = {"classification": ClassificationHead, "regression": RegressionHead, "multiLabel": MultiLabelHead,
         "tagging": TaggingHead, "sequence": SequenceHead}


def implementation(table, kind, what):
    """The twin's class for `kind`, or a ValueError naming the kind and what the twin has."""
    if kind not in table:
        raise ValueError("multitask_twin: no PyTorch twin for the %s '%s' (it has: %s)" % (what, kind, ", ".join(sorted(table))))
    return table[kind]


class MultiTaskTwin(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        enc = config["encoder"]
        self.embedding = InputEmbedding(config)
        scheme = implementation(SCHEMES, config["sharing"]["kind"], "sharing scheme")(config)
        shared_layers = config["sharing"]["sharedLayers"] if config["sharing"]["kind"] == "layerwise" else enc["numLayers"]
        self.encoder = encoder_stack(enc, shared_layers)
        self.scheme_name = scheme.name
        self.add_module(scheme.name, scheme)
        self.pooler = nn.Linear(enc["dModel"], enc["dModel"]) if enc.get("pooler", False) else None
        shared_decoder = None
        if config["sharing"]["kind"] == "fullyShared":
            layers = max(t["decoderLayers"] for t in config["tasks"] if "decoderLayers" in t) if any(
                t.get("decoderLayers", 0) > 0 for t in config["tasks"]) else 0
            if layers > 0:
                self.decoder = decoder_stack(enc, layers)
                shared_decoder = self.decoder
        self.tasks = nn.Module()
        for task in config["tasks"]:
            scheme.add_task(task["name"], config)
            head = implementation(HEADS, task["kind"], "head")
            self.tasks.add_module(task["name"], head(task, config, shared_decoder, self.pooler))

    @classmethod
    def load(cls, directory):
        with open(os.path.join(directory, "config.json")) as f:
            model = cls(json.load(f))
        model.load_state_dict(load_tensors(os.path.join(directory, "model.safetensors")), strict=True)
        return model

    def encode(self, batch, tasks):
        x = self.embedding(batch)
        mask = self.embedding.padding_mask(batch)
        return getattr(self, self.scheme_name).encode(self.encoder, x, mask, tasks), mask

    def forward(self, batch, tasks):
        memories, mask = self.encode(batch, tasks)
        results = {}
        for t in tasks:
            head = getattr(self.tasks, t)
            targets = batch.get("targets." + t)
            outputs = head(memories[t], mask, batch, targets)
            results[t] = (outputs, head.loss(outputs, targets, mask) if targets is not None else None)
        return results

    def generate(self, task, batch, beam_size=1, max_length=0, length_penalty=0.0):
        with torch.no_grad():
            memories, mask = self.encode(batch, [task])
            head = getattr(self.tasks, task)
            limit = min(max_length, head.head["maxLength"]) if max_length > 0 else head.head["maxLength"]
            return head.generate(memories[task], mask, beam_size, limit, length_penalty)
