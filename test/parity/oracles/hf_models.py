#!/usr/bin/python3
"""PyTorch reference of Hugging Face's BERT-family encoders, the oracle of test/pretrained*.test.ts.

No `transformers` package exists here, so this file rebuilds the four base models the way
transformers' modeling_bert.py, modeling_roberta.py, modeling_distilbert.py and modeling_electra.py
compute them, with the very same parameter names (so a checkpoint written here loads in
transformers, and one from the Hub loads here):

  BertModel        embeddings.{word,position,token_type}_embeddings, embeddings.LayerNorm,
                   encoder.layer.N.attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
                   intermediate.dense, output.{dense,LayerNorm}; pooler.dense
  RobertaModel     BertModel's layout; position ids count from padding_idx + 1 over non-padding
                   tokens (padding positions take padding_idx), the position table has padding_idx
  ElectraModel     BertModel's layout with embedding_size-wide embeddings and embeddings_project
                   (when embedding_size != hidden_size); no pooler
  DistilBertModel  embeddings.{word,position}_embeddings, embeddings.LayerNorm (eps 1e-12),
                   transformer.layer.N.attention.{q,k,v,out}_lin, sa_layer_norm, ffn.{lin1,lin2},
                   output_layer_norm; no token types, no pooler

Script use (one process per test file):
  hf_models.py make SPECS.json
      each spec {"dir", "config": {HF config.json}, "seed", "scale", "prefix": "bert." | "",
      "extra": {name: shape}, "pooler": bool, "vocab": [tokens] | null, "tokenizerJson": path | null}: builds the
      model with seeded N(0, scale²) weights (padding rows kept zero), writes dir/config.json,
      dir/model.safetensors (keys under `prefix`, plus the `extra` tensors, as a task head would add)
      and the tokenizer files.
  hf_models.py run JOBS.json
      each job {"dir", "inputs": IN.safetensors, "output": OUT.safetensors, "grads": bool}: loads
      the directory (with or without the base-model prefix), runs inputIds / attentionMask /
      tokenTypeIds (optional) in eval mode and writes hidden (last_hidden_state), pooled (when the
      model has a pooler) and, with grads, grad.<HF name> of loss = sum(hidden * wHidden) +
      sum(pooled * wPooled) (the weights read from IN).
  hf_models.py pretrain SPECS.json
      each spec {"dir", "config": {HF config.json, model_type bert}, "vocab": [tokens], "corpus": [sentences
      of whitespace-separated vocab tokens], "steps", "batch", "lr", "maskProbability", "seed"}: masked-language-model
      pretraining as BertForMaskedLM does it (a masked token's hidden state through cls.predictions: dense,
      GELU, LayerNorm, the decoder tied to the word embeddings plus a bias), AdamW; writes the directory in
      BertForMaskedLM's layout (bert.* and cls.predictions.*, no pooler) with vocab.txt, and prints the
      masked-token loss of the first and last 50 steps.
"""
import json
import math
import os
import shutil
import sys

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
import safetensors_io  # noqa: E402

FAMILIES = ("bert", "roberta", "xlm-roberta", "electra", "distilbert")
PREFIX = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta", "electra": "electra", "distilbert": "distilbert"}


def activation(name):
    if name == "gelu":
        return lambda x: F.gelu(x)  # exact (erf) GELU, transformers' "gelu"
    if name == "relu":
        return F.relu
    raise ValueError("unsupported hidden_act " + name)


# ---- BERT layout (BERT, RoBERTa, XLM-R, ELECTRA) ----

class BertEmbeddings(nn.Module):
    def __init__(self, c, roberta=False):
        super().__init__()
        width = c.get("embedding_size", c["hidden_size"])
        self.pad = c.get("pad_token_id", 0)
        self.roberta = roberta
        self.word_embeddings = nn.Embedding(c["vocab_size"], width, padding_idx=self.pad)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], width, padding_idx=self.pad if roberta else None)
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], width)
        self.LayerNorm = nn.LayerNorm(width, eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, input_ids, token_type_ids):
        n = input_ids.size(1)
        if self.roberta:
            # create_position_ids_from_input_ids: padding_idx + cumulative count of real tokens
            real = input_ids.ne(self.pad).int()
            position_ids = (torch.cumsum(real, dim=1).type_as(real) * real).long() + self.pad
        else:
            position_ids = torch.arange(n).unsqueeze(0)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.head_size = c["hidden_size"] // self.heads
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def split(self, x):
        return x.view(x.size(0), x.size(1), self.heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, h, extended_mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + extended_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size(0), context.size(1), -1)


class DenseNorm(nn.Module):
    """BertSelfOutput / BertOutput: LayerNorm(dropout(dense(x)) + residual)."""

    def __init__(self, c, inner):
        super().__init__()
        self.dense = nn.Linear(inner, c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = DenseNorm(c, c["hidden_size"])

    def forward(self, h, mask):
        return self.output(self.self(h, mask), h)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.act = activation(c["hidden_act"])

    def forward(self, h):
        return self.act(self.dense(h))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = DenseNorm(c, c["intermediate_size"])

    def forward(self, h, mask):
        a = self.attention(h, mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, h, mask):
        for layer in self.layer:
            h = layer(h, mask)
        return h


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


def extended_attention_mask(attention_mask, dtype=torch.float32):
    # get_extended_attention_mask: (1 - mask) * finfo.min, broadcast over heads and queries
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


class BertModel(nn.Module):
    def __init__(self, c, roberta=False, pooler=True):
        super().__init__()
        self.embeddings = BertEmbeddings(c, roberta)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c) if pooler else None

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        h = self.encoder(self.embeddings(input_ids, token_type_ids), extended_attention_mask(attention_mask))
        return h, (self.pooler(h) if self.pooler is not None else None)


class ElectraModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        if c.get("embedding_size", c["hidden_size"]) != c["hidden_size"]:
            self.embeddings_project = nn.Linear(c["embedding_size"], c["hidden_size"])
        self.encoder = BertEncoder(c)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        h = self.embeddings(input_ids, token_type_ids)
        if hasattr(self, "embeddings_project"):
            h = self.embeddings_project(h)
        return self.encoder(h, extended_attention_mask(attention_mask)), None


# ---- DistilBERT ----

class DistilEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["dim"], padding_idx=c.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["dim"])
        self.LayerNorm = nn.LayerNorm(c["dim"], eps=1e-12)
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, input_ids):
        positions = torch.arange(input_ids.size(1)).unsqueeze(0)
        return self.dropout(self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(positions)))


class DistilAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["n_heads"]
        self.dim = c["dim"]
        self.dropout = nn.Dropout(c["attention_dropout"])
        self.q_lin, self.k_lin, self.v_lin, self.out_lin = (nn.Linear(c["dim"], c["dim"]) for _ in range(4))

    def forward(self, x, mask):
        bs, n, _ = x.shape
        d = self.dim // self.heads
        shape = lambda t: t.view(bs, -1, self.heads, d).transpose(1, 2)  # noqa: E731
        q = shape(self.q_lin(x)) / math.sqrt(d)
        scores = torch.matmul(q, shape(self.k_lin(x)).transpose(2, 3))
        scores = scores.masked_fill((mask == 0).view(bs, 1, 1, n).expand_as(scores), torch.finfo(scores.dtype).min)
        weights = self.dropout(F.softmax(scores, dim=-1))
        context = torch.matmul(weights, shape(self.v_lin(x))).transpose(1, 2).contiguous().view(bs, -1, self.dim)
        return self.out_lin(context)


class DistilFFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = nn.Dropout(c["dropout"])
        self.lin1 = nn.Linear(c["dim"], c["hidden_dim"])
        self.lin2 = nn.Linear(c["hidden_dim"], c["dim"])
        self.act = activation(c["activation"])

    def forward(self, x):
        return self.dropout(self.lin2(self.act(self.lin1(x))))


class DistilBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = DistilAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c["dim"], eps=1e-12)
        self.ffn = DistilFFN(c)
        self.output_layer_norm = nn.LayerNorm(c["dim"], eps=1e-12)

    def forward(self, x, mask):
        sa = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(sa) + sa)


class DistilTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([DistilBlock(c) for _ in range(c["n_layers"])])


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = DistilEmbeddings(c)
        self.transformer = DistilTransformer(c)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        h = self.embeddings(input_ids)
        for layer in self.transformer.layer:
            h = layer(h, attention_mask)
        return h, None


# ---- building, saving, loading ----

BERT_DEFAULTS = {"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
                 "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0, "max_position_embeddings": 512}
FAMILY_DEFAULTS = {
    "roberta": {"pad_token_id": 1, "type_vocab_size": 1, "layer_norm_eps": 1e-5},
    "xlm-roberta": {"pad_token_id": 1, "type_vocab_size": 1, "layer_norm_eps": 1e-5},
    "electra": {},
    "bert": {},
}
DISTIL_DEFAULTS = {"activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1, "pad_token_id": 0,
                   "max_position_embeddings": 512, "sinusoidal_pos_embds": False}


def full_config(c):
    family = c["model_type"]
    if family == "distilbert":
        return {**DISTIL_DEFAULTS, **c}
    return {**BERT_DEFAULTS, **FAMILY_DEFAULTS[family], **c}


def build(config, pooler=True):
    c = full_config(config)
    family = c["model_type"]
    if family == "distilbert":
        return DistilBertModel(c)
    if family == "electra":
        return ElectraModel(c)
    return BertModel(c, roberta=family in ("roberta", "xlm-roberta"), pooler=pooler)


def randomize(model, seed, scale):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape) * scale)
            if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight"):
                p.add_(1.0)
        for m in model.modules():
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                m.weight[m.padding_idx].zero_()


def make(spec):
    d = spec["dir"]
    os.makedirs(d, exist_ok=True)
    config = spec["config"]
    model = build(config, pooler=spec.get("pooler", True))
    randomize(model, spec.get("seed", 0), spec.get("scale", 0.3))
    prefix = spec.get("prefix", "")
    tensors = {prefix + k: v.detach().contiguous() for k, v in model.state_dict().items()}
    torch.manual_seed(spec.get("seed", 0) + 1)
    for name, shape in spec.get("extra", {}).items():
        tensors[name] = torch.randn(shape)
    safetensors_io.save(tensors, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if spec.get("vocab"):
        with open(os.path.join(d, "vocab.txt"), "w") as f:
            f.write("\n".join(spec["vocab"]) + "\n")
    if spec.get("tokenizerJson"):
        shutil.copyfile(spec["tokenizerJson"], os.path.join(d, "tokenizer.json"))


def load(d):
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    tensors = safetensors_io.load(os.path.join(d, "model.safetensors"))
    model = build(config, pooler=any(k.endswith("pooler.dense.weight") for k in tensors))
    base = PREFIX[config["model_type"]] + "."
    own = set(model.state_dict().keys())
    if not any(k.startswith("embeddings.") for k in tensors):
        tensors = {k[len(base):]: v for k, v in tensors.items() if k.startswith(base)}
    tensors = {k: v for k, v in tensors.items() if k in own}  # heads (cls., classifier., ...) are not the encoder's
    model.load_state_dict(tensors, strict=True)
    return model


def run(job):
    model = load(job["dir"])
    model.eval()
    inputs = safetensors_io.load(job["inputs"])
    hidden, pooled = model(inputs["inputIds"].long(), inputs["attentionMask"].long(),
                           inputs["tokenTypeIds"].long() if "tokenTypeIds" in inputs else None)
    out = {"hidden": hidden.detach().contiguous()}
    if pooled is not None:
        out["pooled"] = pooled.detach().contiguous()
    if job.get("grads"):
        loss = (hidden * inputs["wHidden"]).sum()
        if pooled is not None and "wPooled" in inputs:
            loss = loss + (pooled * inputs["wPooled"]).sum()
        loss.backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                out["grad." + name] = p.grad.detach().contiguous()
    safetensors_io.save(out, job["output"])


class MaskedLanguageModelHead(nn.Module):
    """BertForMaskedLM's cls.predictions: transform (dense, GELU, LayerNorm), then the tied decoder and a bias."""

    def __init__(self, c, word_embeddings):
        super().__init__()
        self.act = activation(c["hidden_act"])
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.transform.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.word_embeddings = word_embeddings

    def forward(self, hidden):
        h = self.transform.LayerNorm(self.act(self.transform.dense(hidden)))
        return F.linear(h, self.word_embeddings.weight, self.bias)


def pretrain(spec):
    c = full_config(spec["config"])
    assert c["model_type"] == "bert", "pretrain: BERT only"
    vocab = {token: i for i, token in enumerate(spec["vocab"])}
    special = [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
    rows = [[vocab["[CLS]"]] + [vocab[w] for w in sentence.split()] + [vocab["[SEP]"]] for sentence in spec["corpus"]]
    length = max(len(r) for r in rows)
    assert length <= c["max_position_embeddings"], "pretrain: a sentence is longer than the position table"
    ids = torch.tensor([r + [c["pad_token_id"]] * (length - len(r)) for r in rows])
    mask = (torch.arange(length) < torch.tensor([len(r) for r in rows]).unsqueeze(1)).long()
    maskable = mask.bool() & ~torch.isin(ids, torch.tensor(special))
    model = build(spec["config"], pooler=False)
    randomize(model, spec["seed"], 0.05)
    head = MaskedLanguageModelHead(c, model.embeddings.word_embeddings)
    parameters = list(model.parameters()) + [p for n, p in head.named_parameters() if not n.startswith("word_embeddings")]
    optimizer = torch.optim.AdamW(parameters, lr=spec["lr"])
    generator = torch.Generator().manual_seed(spec["seed"])
    model.train()
    losses = []
    for _ in range(spec["steps"]):
        rows_at = torch.randint(0, len(rows), (spec["batch"],), generator=generator)
        chosen = (torch.rand(spec["batch"], length, generator=generator) < spec["maskProbability"]) & maskable[rows_at]
        inputs = ids[rows_at].masked_fill(chosen, vocab["[MASK]"])
        hidden, _ = model(inputs, mask[rows_at], None)
        loss = F.cross_entropy(head(hidden[chosen]), ids[rows_at][chosen])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    d = spec["dir"]
    os.makedirs(d, exist_ok=True)
    tensors = {"bert." + k: v.detach().contiguous() for k, v in model.state_dict().items()}
    # The head's own tensors (the decoder is tied to the word embeddings, saved above).
    tensors.update({"cls.predictions." + k: v.detach().contiguous() for k, v in head.state_dict().items() if not k.startswith("word_embeddings")})
    safetensors_io.save(tensors, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({**spec["config"], "architectures": ["BertForMaskedLM"]}, f, indent=2)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(spec["vocab"]) + "\n")
    window = min(50, len(losses))
    print(json.dumps({"dir": d, "firstLoss": sum(losses[:window]) / window, "lastLoss": sum(losses[-window:]) / window}))


def main(argv):
    torch.set_num_threads(1)
    command, path = argv[1], argv[2]
    with open(path) as f:
        items = json.load(f)
    for item in items:
        {"make": make, "run": run, "pretrain": pretrain}[command](item)


if __name__ == "__main__":
    main(sys.argv)
