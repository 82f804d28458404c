#!/usr/bin/env python3
"""PyTorch reference for `npm run bench:train`: the same CVAE, trained the same way, on the same cores.

It does not describe any network itself. It reads, on stdin, the JSON that bench/train.bench.ts
writes from the project's catalogue (the declarative spec plus the parameter list derived from
it, src/shared/arch/shapes.ts) and interprets the spec layer by layer as src/worker/model does:
TensorFlow-style 'same' padding, batch norm (eps 1e-3), nearest upsampling, the condition
projected and concatenated or added (class: one-hot times a matrix; text: whitened, then a dense
layer with bias), mu/logvar heads with the soft logvar bound, loss = summed BCE from logits + beta*KL
per example, torch.optim.Adam(lr 1e-3, weight_decay 1e-3). Before timing, every trainable tensor
is checked against the catalogue's list (name and element count), so the two cannot drift.

Tensors are NCHW here (PyTorch's fast layout), NHWC in the project: flatten and reshape order the
same numbers differently, a permutation of the next dense layer's rows, the same network.

Prints one JSON line: {"model", "parameters", "threads", "imagesPerSecond", "byThreads", "torch"};
with "checkOnly" in the job, only the catalogue check and one training step at batch 2; with
"checks" (a list of {spec, params}), that for each, one JSON line per spec.
"""

import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def same_pad(size, kernel, stride):
    """TensorFlow 'same': output ceil(size / stride), the odd pixel of padding at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Layer(nn.Module):
    """One spec layer; `shape` in and out is (h, w, c) or (n,), as the spec counts it."""

    def __init__(self, spec, shape, last, logits):
        super().__init__()
        self.kind = spec["type"]
        self.activation = spec.get("activation", "linear")
        if last and logits:
            self.activation = "linear"
        self.bn = None
        if self.kind == "dense":
            self.op = nn.Linear(shape[0], spec["units"])
            self.out = (spec["units"],)
            if spec.get("batchNorm"):
                self.bn = nn.BatchNorm1d(spec["units"], eps=1e-3)
        elif self.kind in ("conv2d", "conv2dTranspose"):
            h, w, c = shape
            k, s, f = spec["kernel"], spec["stride"], spec["filters"]
            if self.kind == "conv2d":
                self.op = nn.Conv2d(c, f, k, stride=s)
                self.pad = same_pad(w, k, s) + same_pad(h, k, s)  # F.pad order: left, right, top, bottom
                self.out = (-(-h // s), -(-w // s), f)
            else:
                # 'same' transposed: the full (in-1)*s+k output cropped to in*s, as TensorFlow does
                self.op = nn.ConvTranspose2d(c, f, k, stride=s)
                self.crop = (max(k - s, 0) // 2, h * s, w * s)
                self.out = (h * s, w * s, f)
            if spec.get("batchNorm"):
                self.bn = nn.BatchNorm2d(f, eps=1e-3)
        elif self.kind == "upsample":
            h, w, c = shape
            self.factor = spec["factor"]
            self.out = (h * self.factor, w * self.factor, c)
        elif self.kind == "flatten":
            self.out = (math.prod(shape),)
        elif self.kind == "reshape":
            self.out = tuple(spec["shape"])
        else:
            raise ValueError(f"unknown layer type {self.kind}")

    def forward(self, x):
        if self.kind == "dense":
            x = self.op(x)
        elif self.kind == "conv2d":
            x = self.op(F.pad(x, self.pad))
        elif self.kind == "conv2dTranspose":
            start, h, w = self.crop
            x = self.op(x)[:, :, start : start + h, start : start + w]
        elif self.kind == "upsample":
            return F.interpolate(x, scale_factor=self.factor, mode="nearest")
        elif self.kind == "flatten":
            return x.flatten(1)
        elif self.kind == "reshape":
            h, w, c = self.out
            return x.reshape(x.shape[0], c, h, w)
        if self.bn is not None:
            x = self.bn(x)
        if self.activation == "relu":
            return F.relu(x)
        if self.activation == "sigmoid":
            return torch.sigmoid(x)
        return x


class Stack(nn.Module):
    def __init__(self, layers, shape, logits=False):
        super().__init__()
        active = [i for i, l in enumerate(layers) if "activation" in l]
        last = active[-1] if active else -1
        self.layers = nn.ModuleList()
        for i, spec in enumerate(layers):
            layer = Layer(spec, shape, i == last, logits)
            self.layers.append(layer)
            shape = layer.out
        self.out = shape

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Cvae(nn.Module):
    def __init__(self, spec):
        super().__init__()
        image = spec["image"]
        cond = spec["condition"]
        self.text = cond["type"] == "text-embedding"
        self.cond_size = cond["dim"] if self.text else cond["classes"]
        self.latent = spec["latentDim"]
        self.logvar_limit = spec.get("logvarLimit")
        self.encoder = Stack(spec["encoder"]["layers"], (image["height"], image["width"], image["channels"]))
        features = self.encoder.out[0]
        enc_join, dec_join = spec["encoder"]["condition"], spec["decoder"]["condition"]
        self.enc_join, self.dec_join = enc_join["join"], dec_join["join"]
        enc_width = enc_join["size"] if self.enc_join == "concat" else features
        dec_width = dec_join["size"] if self.dec_join == "concat" else self.latent
        self.enc_cond = nn.Linear(self.cond_size, enc_width, bias=self.text)
        self.dec_cond = nn.Linear(self.cond_size, dec_width, bias=self.text)
        joined = features + enc_width if self.enc_join == "concat" else features
        self.mu = nn.Linear(joined, self.latent)
        self.logvar = nn.Linear(joined, self.latent)
        decoder_in = self.latent + dec_width if self.dec_join == "concat" else self.latent
        self.decoder = Stack(spec["decoder"]["layers"], (decoder_in,), logits=True)
        if self.text and cond.get("whiten"):
            self.register_buffer("whiten_mean", torch.zeros(self.cond_size))
            self.register_buffer("whiten_matrix", torch.eye(self.cond_size))
        else:
            self.whiten_mean = None

    def condition(self, c):
        return c if self.whiten_mean is None else (c - self.whiten_mean) @ self.whiten_matrix

    @staticmethod
    def join(x, projected, rule):
        return torch.cat([x, projected], 1) if rule == "concat" else x + projected

    def forward(self, images, c):
        c = self.condition(c)
        h = self.join(self.encoder(images), self.enc_cond(c), self.enc_join)
        mu, logvar = self.mu(h), self.logvar(h)
        if self.logvar_limit:
            logvar = self.logvar_limit * torch.tanh(logvar / self.logvar_limit)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.decoder(self.join(z, self.dec_cond(c), self.dec_join))
        return logits, mu, logvar

    def named_spec_params(self):
        """This module's trainable tensors under the catalogue's names (src/shared/arch/shapes.ts)."""
        out = {}
        for prefix, stack in (("encoder", self.encoder), ("decoder", self.decoder)):
            for i, layer in enumerate(stack.layers):
                if hasattr(layer, "op"):
                    out[f"{prefix}.{i}.kernel"] = layer.op.weight
                    out[f"{prefix}.{i}.bias"] = layer.op.bias
                if layer.bn is not None:
                    out[f"{prefix}.{i}.bn.gamma"] = layer.bn.weight
                    out[f"{prefix}.{i}.bn.beta"] = layer.bn.bias
        for name, lin in (("encoder.condition", self.enc_cond), ("decoder.condition", self.dec_cond),
                          ("encoder.mu", self.mu), ("encoder.logvar", self.logvar)):
            out[f"{name}.kernel"] = lin.weight
            if lin.bias is not None:
                out[f"{name}.bias"] = lin.bias
        return out


def check_against_catalogue(model, expected):
    """Every trainable tensor the catalogue lists, with the same element count, and no other."""
    ours = {name: t.numel() for name, t in model.named_spec_params().items()}
    theirs = {p["name"]: math.prod(p["shape"]) for p in expected if p["trainable"]}
    if ours != theirs:
        missing = sorted(set(theirs) - set(ours))
        extra = sorted(set(ours) - set(theirs))
        sizes = sorted(n for n in set(ours) & set(theirs) if ours[n] != theirs[n])
        raise SystemExit(f"reference drifted from the catalogue: missing {missing}, extra {extra}, sizes differ {sizes}")
    if sum(ours.values()) != sum(p.numel() for p in model.parameters()):
        raise SystemExit("reference has trainable tensors the catalogue does not name")
    return sum(ours.values())


def images_per_second(spec, batch, steps, warmup, threads, kl_weight, seed):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = Cvae(spec)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3)
    image = spec["image"]
    count = batch * 4
    pixels = torch.rand(count, image["channels"], image["height"], image["width"])
    if model.text:
        conditions = torch.randn(count, model.cond_size)
    else:
        conditions = F.one_hot(torch.randint(0, model.cond_size, (count,)), model.cond_size).float()
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        i = (step % 4) * batch
        x, c = pixels[i : i + batch], conditions[i : i + batch]
        logits, mu, logvar = model(x, c)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
        loss = reconstruction + kl_weight * kl
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return steps * batch / (time.perf_counter() - start)


def main():
    job = json.load(sys.stdin)
    if "checks" in job:
        # several specs in one process (torch imports once): the catalogue check and one step each
        for check in job["checks"]:
            parameters = check_against_catalogue(Cvae(check["spec"]), check["params"])
            images_per_second(check["spec"], 2, 1, 0, 1, 1, 1)
            print(json.dumps({"model": check["spec"]["id"], "parameters": parameters, "torch": torch.__version__}))
        return
    spec = job["spec"]
    parameters = check_against_catalogue(Cvae(spec), job["params"])
    if job.get("checkOnly"):
        # one step at batch 2: the decoder's output must match the image for the loss to run
        images_per_second(spec, 2, 1, 0, 1, 1, 1)
        print(json.dumps({"model": spec["id"], "parameters": parameters, "torch": torch.__version__}))
        return
    by_threads = {}
    for threads in job.get("threads", [1, 2]):
        by_threads[threads] = images_per_second(
            spec, job["batch"], job["steps"], job["warmup"], threads, job.get("klWeight", 1), job.get("seed", 1)
        )
    best = max(by_threads, key=by_threads.get)
    print(json.dumps({
        "model": spec["id"],
        "parameters": parameters,
        "threads": best,
        "imagesPerSecond": by_threads[best],
        "byThreads": by_threads,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
