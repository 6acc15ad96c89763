#!/usr/bin/python3
"""Reference tokenizers for test/parity/pretrained-tokenizer.test.ts, written from the algorithms of
Hugging Face's BertTokenizer (BasicTokenizer + WordpieceTokenizer, from a vocab.txt) and of a BPE
tokenizer.json (Lowercase normalizer, Whitespace pre-tokenizer, ranked merges with an end-of-word
suffix, TemplateProcessing), independently of @huggingface/tokenizers (no `tokenizers` or
`transformers` package exists here).

    hf_tokenizers.py CASES.json OUT.json
CASES: {"kind": "wordpiece" | "bpe", "file": vocab.txt | tokenizer.json, "lowercase": bool,
        "maxLength": n, "pairs": [[text, pair | null], ...]}
OUT: {"input_ids": [[...]], "token_type_ids": [[...]], "attention_mask": [[...]]}, right-padded
with the pad id to the batch's longest row, pairs truncated "longest_first" to maxLength.
"""
import json
import re
import sys
import unicodedata


# ---- BERT WordPiece ----

def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lowercase):
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
            continue
        if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
            cleaned.append(" ")
        elif is_chinese(cp):
            cleaned.append(" " + ch + " ")
        else:
            cleaned.append(ch)
    words = []
    for word in "".join(cleaned).split():
        if lowercase:
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")
        current = ""
        for ch in word:
            if is_punctuation(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = ("##" if start > 0 else "") + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


class WordPiece:
    def __init__(self, file, lowercase):
        with open(file, encoding="utf-8") as f:
            tokens = [line.rstrip("\n") for line in f if line.rstrip("\n")]
        self.vocab = {}
        for i, t in enumerate(tokens):
            self.vocab.setdefault(t, i)
        self.lowercase = lowercase
        self.pad = self.vocab["[PAD]"]

    def tokenize(self, text):
        return [p for w in basic_tokenize(text, self.lowercase) for p in wordpiece(w, self.vocab)]

    def template(self, a, b):
        tokens = ["[CLS]"] + a + ["[SEP]"] + ((b + ["[SEP]"]) if b is not None else [])
        types = [0] * (len(a) + 2) + ([1] * (len(b) + 1) if b is not None else [])
        return tokens, types

    def ids(self, tokens):
        return [self.vocab.get(t, self.vocab["[UNK]"]) for t in tokens]


# ---- BPE tokenizer.json ----

class Bpe:
    def __init__(self, file, lowercase):
        with open(file, encoding="utf-8") as f:
            spec = json.load(f)
        model = spec["model"]
        self.vocab = model["vocab"]
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(model["merges"])}
        self.suffix = model.get("end_of_word_suffix") or ""
        self.unk = model["unk_token"]
        self.lowercase = (spec.get("normalizer") or {}).get("type") == "Lowercase"
        self.pad = self.vocab["<pad>"]

    def word(self, w):
        symbols = list(w[:-1]) + [w[-1] + self.suffix]
        while len(symbols) > 1:
            pairs = [(self.ranks.get((symbols[i], symbols[i + 1]), None), i) for i in range(len(symbols) - 1)]
            pairs = [p for p in pairs if p[0] is not None]
            if not pairs:
                break
            rank = min(p[0] for p in pairs)
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and self.ranks.get((symbols[i], symbols[i + 1])) == rank:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return [s if s in self.vocab else self.unk for s in symbols]

    def tokenize(self, text):
        if self.lowercase:
            text = text.lower()
        return [p for w in re.findall(r"\w+|[^\w\s]+", text) for p in self.word(w)]

    def template(self, a, b):
        tokens = ["<s>"] + a + ["</s>"] + ((b + ["</s>"]) if b is not None else [])
        types = [0] * (len(a) + 2) + ([1] * (len(b) + 1) if b is not None else [])
        return tokens, types

    def ids(self, tokens):
        return [self.vocab.get(t, self.vocab[self.unk]) for t in tokens]


def truncate(a, b, budget):
    # longest_first: one token at a time from the longer segment (the second on ties)
    a, b = list(a), (list(b) if b is not None else None)
    while len(a) + (len(b) if b is not None else 0) > budget:
        if b is not None and len(b) >= len(a):
            b.pop()
        else:
            a.pop()
    return a, b


def encode(case):
    tok = WordPiece(case["file"], case.get("lowercase", True)) if case["kind"] == "wordpiece" else Bpe(case["file"], True)
    rows, types = [], []
    for text, pair in case["pairs"]:
        a = tok.tokenize(text)
        b = tok.tokenize(pair) if pair is not None else None
        a, b = truncate(a, b, case["maxLength"] - (3 if b is not None else 2))
        tokens, type_ids = tok.template(a, b)
        rows.append(tok.ids(tokens))
        types.append(type_ids)
    width = max(len(r) for r in rows)
    return {
        "input_ids": [r + [tok.pad] * (width - len(r)) for r in rows],
        "token_type_ids": [t + [0] * (width - len(t)) for t in types],
        "attention_mask": [[1] * len(r) + [0] * (width - len(r)) for r in rows],
    }


def main(argv):
    with open(argv[1]) as f:
        cases = json.load(f)
    with open(argv[2], "w") as f:
        json.dump([encode(c) for c in cases], f)


if __name__ == "__main__":
    main(sys.argv)
