#!/usr/bin/env python3
"""Models as PyTorch exports them, with PyTorch's own float64 answers: ``test/fixtures/exports/<case>/``.

Regenerate with ``/usr/bin/python3 scripts/make_export_models.py`` (Debian's python3-torch and
python3-onnx; deterministic: fixed seeds; the whole ``test/fixtures/exports`` directory is
rewritten). CI needs no torch: the files are committed.

These cases are about the shapes exporters give graphs, not about the recurrences' arithmetic
(the forward and backward fixtures judge that op by op). Each case directory holds

- ``model.onnx``  ``torch.onnx.export`` of the module, dynamic axes as a user would declare them;
- one ``.npy`` per graph input;
- ``ref_<output>.npy``  the module's output in float64 for those inputs;
- ``ref_grad_<input>.npy``  d(sum of the first output)/d(input) by torch autograd in float64;
- ``case.json``  the description, input and output names.

Cases:

- ``lstm_packed_unsorted``: ``pack_padded_sequence(x, lens, enforce_sorted=False)`` into an LSTM,
  a Linear head on the last valid state of every sequence. The export sorts the batch by length
  (TopK on the lengths, then ``Gather(x, indices, axis=1)``) before the LSTM and unsorts after:
  the sequence and batch axes of ``x`` reach the LSTM only through that Gather, and its
  ``sequence_lens`` only through TopK.
"""
import json
import os
import shutil

import numpy as np
import onnx
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "exports")
OPSET = 14


class PackedUnsorted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(4, 6)
        self.fc = torch.nn.Linear(6, 2)

    def forward(self, x, lens):
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lens, enforce_sorted=False)
        _, (h, _) = self.rnn(packed)
        return self.fc(h[-1])


def write_case(name, description, module, args, input_names, output_names, dynamic_axes):
    d = os.path.join(ROOT, name)
    os.makedirs(d)
    module.eval()
    torch.onnx.export(module, args, os.path.join(d, "model.onnx"), opset_version=OPSET, input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(os.path.join(d, "model.onnx")))
    for n, a in zip(input_names, args):
        np.save(os.path.join(d, "%s.npy" % n), a.numpy())
    # The judge: the module itself in float64, its gradient by autograd.
    m64 = module.double()
    args64 = [a.double().requires_grad_(True) if a.is_floating_point() else a for a in args]
    outs = m64(*args64)
    outs = outs if isinstance(outs, tuple) else (outs,)
    outs[0].sum().backward()
    for n, t in zip(output_names, outs):
        np.save(os.path.join(d, "ref_%s.npy" % n), t.detach().numpy())
    for n, a in zip(input_names, args64):
        if a.is_floating_point():
            np.save(os.path.join(d, "ref_grad_%s.npy" % n), a.grad.numpy())
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump({"description": description, "inputs": input_names, "outputs": output_names,
                   "objective": {"kind": "sum", "output": output_names[0]}}, f, indent=2)


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    torch.manual_seed(21)
    T, B = 9, 3
    write_case("lstm_packed_unsorted",
               "pack_padded_sequence(x, lens, enforce_sorted=False) -> nn.LSTM(4, 6) -> Linear(6, 2) on h[-1]; "
               "x [T=9, B=3, 4], lens [9, 4, 7] (unsorted); dynamic axes T, B.",
               PackedUnsorted(), (torch.randn(T, B, 4), torch.tensor([9, 4, 7])), ["x", "lens"], ["y"],
               {"x": {0: "T", 1: "B"}, "lens": {0: "B"}})
    print("wrote", ROOT)


if __name__ == "__main__":
    main()
