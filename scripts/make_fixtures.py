#!/usr/bin/env python3
"""Forward-pass fixtures for Gradient Lens: ``test/fixtures/forward/<case>/``.

Regenerate with ``/usr/bin/python3 scripts/make_fixtures.py`` (deterministic: fixed seeds;
idempotent: the whole ``test/fixtures/forward`` directory is deleted and rewritten).

Each case directory holds

- ``model.onnx``   a small recurrent model (float32 weights). Cases 1-8 are exported from
  PyTorch modules with ``torch.onnx.export``; cases 9-20 are hand-built with ``onnx.helper``
  to reach every attribute and optional input of LSTM / GRU / RNN (layout=1,
  sequence_lens, peepholes, clip, input_forget, activations with alpha/beta, no bias,
  Constant-node weights, several recurrent nodes wired together).
- one ``.npy`` per graph input (float32, int64 token ids, int32 sequence_lens);
- ``case.json`` naming the inputs, the reference graph outputs and, for every recurrent
  node in graph order and every direction of it, the per-step tensors (post-activation
  gates, hidden, cell; ``[T, B, H]`` float64 whatever the layout, time index = input
  position, zeros at padded positions) and the reference metrics of SPEC.md §4
  (saturation, retention, spectrum).

The reference values are NOT produced by torch.nn.LSTM/GRU/RNN or onnxruntime. They come
from an independent float64 NumPy reimplementation: a small ONNX interpreter for the ops
these graphs use, whose LSTM / GRU / RNN kernels are explicit loops over time steps
written from the ONNX operator definitions (gate order LSTM i,o,f,c; GRU z,r,h;
B = [Wb, Rb]; P = [Pi, Po, Pf]; the output gate's peephole uses the new C_t; clip clamps
every gate pre-activation, the candidate included, before its activation function).

Choices written down here (and in each case's description where they matter):

- ``input_forget=1`` couples the gates as onnxruntime does: the input gate i_t is computed
  as usual and the forget gate is f_t = 1 - i_t (the forget rows of W/R/B/P are unused).
  (ONNX's text only says "couple the input and forget gates"; onnxruntime is the one
  runtime that implements it, and SPEC.md §1 asks for its numbers.)
- ``activation_alpha`` / ``activation_beta`` are consumed in order by the activation
  functions that take them (onnxruntime's rule); an activation that takes a parameter
  when the list is exhausted gets its ONNX default (LeakyRelu 0.01, HardSigmoid 0.2/0.5,
  Elu 1.0, ThresholdedRelu 1.0, ScaledTanh 1.0/1.0, Affine 1.0/0.0).
- Retention horizon 1/(1 - meanForget) is written as 1e30 when meanForget >= 1.
- Saturation (low 0.1, high 0.9, strict < and >) is reported for every gate tensor,
  including LSTM's cell candidate c~ and GRU's h~; for tanh-valued gates (activation Tanh or
  Softsign; ScaledTanh scaled by its alpha) the thresholds map through tanh(x) = 2 sigmoid(2x) - 1
  to 2*low - 1 and 2*high - 1 (SPEC v2 section 9.2), written as ``low``/``high`` per gate; an RNN has no
  gates, so its ``saturation`` is {} and its ``spectrum`` has only ``all``.

Self-checks run every time (the script fails if one does not hold):

- the reference reproduces ONNX's own backend test data
  (/usr/share/libonnx-testdata/data/node/test_{lstm,gru,rnn,simple_rnn}_*); that data is
  required: without Debian's ``libonnx-testdata`` package the script stops with an error;
- for every PyTorch-exported case, the reference run on the exported ONNX graph matches
  the PyTorch module itself evaluated in float64.

``test/fixtures/forward/_bad/`` holds models the analyser must refuse or treat specially
(see its ``bad.json``).
"""

import io
import json
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")
torch.set_num_threads(2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "forward")
TESTDATA = "/usr/share/libonnx-testdata/data/node"
OPSET = 14
SAT_LOW, SAT_HIGH = 0.1, 0.9
HORIZON_INF = 1e30

# --------------------------------------------------------------------------------------
# Activation functions (ONNX RNN activation list)
# --------------------------------------------------------------------------------------

# lower-case name -> (takes alpha, takes beta, default alpha, default beta)
ACT_PARAMS = {
    "relu": (False, False, None, None),
    "tanh": (False, False, None, None),
    "sigmoid": (False, False, None, None),
    "softsign": (False, False, None, None),
    "softplus": (False, False, None, None),
    "affine": (True, True, 1.0, 0.0),
    "leakyrelu": (True, False, 0.01, None),
    "thresholdedrelu": (True, False, 1.0, None),
    "scaledtanh": (True, True, 1.0, 1.0),
    "hardsigmoid": (True, True, 0.2, 0.5),
    "elu": (True, False, 1.0, None),
}


def make_activation(name, alpha, beta):
    n = name.lower()
    if n == "relu":
        return lambda x: np.maximum(x, 0.0)
    if n == "tanh":
        return np.tanh
    if n == "sigmoid":
        return lambda x: 1.0 / (1.0 + np.exp(-x))
    if n == "softsign":
        return lambda x: x / (1.0 + np.abs(x))
    if n == "softplus":
        return lambda x: np.logaddexp(0.0, x)
    if n == "affine":
        return lambda x: alpha * x + beta
    if n == "leakyrelu":
        return lambda x: np.where(x >= 0, x, alpha * x)
    if n == "thresholdedrelu":
        return lambda x: np.where(x > alpha, x, 0.0)
    if n == "scaledtanh":
        return lambda x: alpha * np.tanh(beta * x)
    if n == "hardsigmoid":
        return lambda x: np.maximum(0.0, np.minimum(1.0, alpha * x + beta))
    if n == "elu":
        return lambda x: np.where(x >= 0, x, alpha * (np.exp(x) - 1.0))
    raise ValueError("unknown activation " + name)


def bind_activation_params(names, alphas, betas):
    """(name, alpha, beta) per activation: alpha/beta consumed in list order by those that take them."""
    ai, bi = 0, 0
    out = []
    for name in names:
        takes_a, takes_b, da, db = ACT_PARAMS[name.lower()]
        a = b = None
        if takes_a:
            a = float(alphas[ai]) if ai < len(alphas) else da
            ai += 1 if ai < len(alphas) else 0
        if takes_b:
            b = float(betas[bi]) if bi < len(betas) else db
            bi += 1 if bi < len(betas) else 0
        out.append((name, a, b))
    return out


def gate_thresholds(act_name, alpha):
    """SPEC v2 section 9.2: sigmoid-valued gates use (low, high); tanh-valued ones map them
    through tanh(x) = 2 sigmoid(2x) - 1, i.e. (2 low - 1, 2 high - 1), times alpha for ScaledTanh;
    unbounded activations keep (low, high)."""
    n = act_name.lower()
    if n in ("tanh", "softsign"):
        return 2 * SAT_LOW - 1, 2 * SAT_HIGH - 1
    if n == "scaledtanh":
        return alpha * (2 * SAT_LOW - 1), alpha * (2 * SAT_HIGH - 1)
    return SAT_LOW, SAT_HIGH


def resolve_activations(names, alphas, betas):
    """Bind alpha/beta to the activations, consumed in list order by those that take them."""
    ai, bi = 0, 0
    funcs = []
    for name in names:
        takes_a, takes_b, da, db = ACT_PARAMS[name.lower()]
        a = b = None
        if takes_a:
            if ai < len(alphas):
                a = float(alphas[ai])
                ai += 1
            else:
                a = da
        if takes_b:
            if bi < len(betas):
                b = float(betas[bi])
                bi += 1
            else:
                b = db
        funcs.append(make_activation(name, a, b))
    return funcs


# --------------------------------------------------------------------------------------
# The recurrent kernels: unrolled, float64, straight from the ONNX operator definitions
# --------------------------------------------------------------------------------------

GATES = {"LSTM": ["input", "output", "forget", "cell"], "GRU": ["update", "reset", "hidden"], "RNN": []}
NGATE = {"LSTM": 4, "GRU": 3, "RNN": 1}
NACT = {"LSTM": 3, "GRU": 2, "RNN": 1}
DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


def recurrent(op, attrs, X, W, R, Bias=None, seq_lens=None, init_h=None, init_c=None, P=None):
    """Evaluate one LSTM/GRU/RNN node. Returns (outputs list, per-direction traces)."""
    H = int(attrs["hidden_size"])
    layout = int(attrs.get("layout", 0))
    direction = attrs.get("direction", "forward")
    clip = attrs.get("clip", None)
    input_forget = int(attrs.get("input_forget", 0))
    lbr = int(attrs.get("linear_before_reset", 0))
    D = 2 if direction == "bidirectional" else 1
    g = NGATE[op]

    X = np.asarray(X, np.float64)
    if layout == 1:
        X = X.transpose(1, 0, 2)
        if init_h is not None:
            init_h = np.asarray(init_h).transpose(1, 0, 2)
        if init_c is not None:
            init_c = np.asarray(init_c).transpose(1, 0, 2)
    T, Bn, _ = X.shape
    W = np.asarray(W, np.float64)
    R = np.asarray(R, np.float64)
    assert W.shape[0] == D and W.shape[1] == g * H and R.shape == (D, g * H, H)

    names = list(attrs.get("activations") or DEFAULT_ACTS[op] * D)
    if D == 2 and len(names) == NACT[op]:
        names = names * 2  # onnxruntime reuses one set for both directions
    acts = resolve_activations(names, attrs.get("activation_alpha", []), attrs.get("activation_beta", []))

    lens = np.full(Bn, T, np.int64) if seq_lens is None else np.asarray(seq_lens, np.int64)
    valid = np.arange(T)[:, None] < lens[None, :]  # [T, B]

    def clamp(v):
        return v if clip is None else np.clip(v, -clip, clip)

    Y = np.zeros((T, D, Bn, H))
    Yh = np.zeros((D, Bn, H))
    Yc = np.zeros((D, Bn, H))
    traces = []
    for d in range(D):
        dname = ("forward", "reverse")[d] if D == 2 else direction
        Wd, Rd = W[d], R[d]
        if Bias is None:
            Wb = np.zeros(g * H)
            Rb = np.zeros(g * H)
        else:
            Wb = np.asarray(Bias, np.float64)[d, : g * H]
            Rb = np.asarray(Bias, np.float64)[d, g * H:]
        h = np.zeros((Bn, H)) if init_h is None else np.asarray(init_h, np.float64)[d].copy()
        c = np.zeros((Bn, H)) if init_c is None else np.asarray(init_c, np.float64)[d].copy()
        if P is not None:
            Pd = np.asarray(P, np.float64)[d]
            Pi, Po, Pf = Pd[:H], Pd[H: 2 * H], Pd[2 * H:]
        else:
            Pi = Po = Pf = np.zeros(H)
        f_act, g_act, h_act = (acts[d * NACT[op]: (d + 1) * NACT[op]] + [None, None])[:3]
        gates = {name: np.zeros((T, Bn, H)) for name in GATES[op]}
        hid = np.zeros((T, Bn, H))
        cel = np.zeros((T, Bn, H))
        order = range(T) if dname == "forward" else range(T - 1, -1, -1)
        for t in order:
            m = valid[t][:, None]
            x = X[t]
            if op == "LSTM":
                a = x @ Wd.T + h @ Rd.T + Wb + Rb
                ai, ao, af, ac = a[:, :H], a[:, H: 2 * H], a[:, 2 * H: 3 * H], a[:, 3 * H:]
                i = f_act(clamp(ai + Pi * c))
                if input_forget:
                    f = 1.0 - i
                else:
                    f = f_act(clamp(af + Pf * c))
                ct = g_act(clamp(ac))
                c_new = f * c + i * ct
                o = f_act(clamp(ao + Po * c_new))
                h_new = o * h_act(c_new)
                step = {"input": i, "output": o, "forget": f, "cell": ct}
            elif op == "GRU":
                xw = x @ Wd.T
                Rz, Rr, Rh = Rd[:H], Rd[H: 2 * H], Rd[2 * H:]
                z = f_act(clamp(xw[:, :H] + h @ Rz.T + Wb[:H] + Rb[:H]))
                r = f_act(clamp(xw[:, H: 2 * H] + h @ Rr.T + Wb[H: 2 * H] + Rb[H: 2 * H]))
                if lbr:
                    pre = xw[:, 2 * H:] + r * (h @ Rh.T + Rb[2 * H:]) + Wb[2 * H:]
                else:
                    pre = xw[:, 2 * H:] + (r * h) @ Rh.T + Rb[2 * H:] + Wb[2 * H:]
                ht = g_act(clamp(pre))
                h_new = (1.0 - z) * ht + z * h
                c_new = c
                step = {"update": z, "reset": r, "hidden": ht}
            else:
                h_new = f_act(clamp(x @ Wd.T + h @ Rd.T + Wb + Rb))
                c_new = c
                step = {}
            # padded positions: the op skips them, the state is carried unchanged
            h = np.where(m, h_new, h)
            c = np.where(m, c_new, c)
            for k, v in step.items():
                gates[k][t] = np.where(m, v, 0.0)
            hid[t] = np.where(m, h_new, 0.0)
            cel[t] = np.where(m, c_new, 0.0)
            Y[t, d] = hid[t]
        Yh[d] = h
        Yc[d] = c
        bound = bind_activation_params(names, attrs.get("activation_alpha", []), attrs.get("activation_beta", []))
        tr = {"direction": dname, "gates": gates, "hidden": hid, "R": Rd, "valid": valid, "lens": lens,
              "acts": bound[d * NACT[op]:(d + 1) * NACT[op]]}
        if op == "LSTM":
            tr["cell"] = cel
        traces.append(tr)

    if layout == 1:
        outs = [Y.transpose(2, 0, 1, 3), Yh.transpose(1, 0, 2), Yc.transpose(1, 0, 2)]
    else:
        outs = [Y, Yh, Yc]
    return outs[: 3 if op == "LSTM" else 2], traces


# --------------------------------------------------------------------------------------
# A small float64 ONNX interpreter for the ops these graphs use
# --------------------------------------------------------------------------------------


def attr_dict(node):
    d = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode() for s in v]
        elif isinstance(v, TensorProto):
            v = numpy_helper.to_array(v)
        d[a.name] = v
    return d


def f64(a):
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def opset_of(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return OPSET


def run_graph(model, feeds):
    """Returns (dict of every value, {node name: (node, attrs, traces)} in graph order)."""
    opset = opset_of(model)
    env = {}
    for init in model.graph.initializer:
        env[init.name] = f64(numpy_helper.to_array(init))
    for k, v in feeds.items():
        env[k] = f64(v)
    rec = {}

    def get(node, i):
        if i < len(node.input) and node.input[i] != "":
            return env[node.input[i]]
        return None

    for node in model.graph.node:
        op = node.op_type
        at = attr_dict(node)
        ins = [get(node, i) for i in range(len(node.input))]
        if op == "Constant":
            if "value" in at:
                outs = [f64(at["value"])]
            elif "value_float" in at:
                outs = [np.array(at["value_float"], np.float64)]
            elif "value_floats" in at:
                outs = [np.array(at["value_floats"], np.float64)]
            elif "value_int" in at:
                outs = [np.array(at["value_int"], np.int64)]
            elif "value_ints" in at:
                outs = [np.array(at["value_ints"], np.int64)]
            else:
                raise NotImplementedError("Constant " + str(at))
        elif op == "Identity":
            outs = [ins[0]]
        elif op == "Shape":
            outs = [np.array(ins[0].shape, np.int64)]
        elif op == "Gather":
            outs = [np.take(ins[0], ins[1].astype(np.int64), axis=at.get("axis", 0))]
        elif op in ("Unsqueeze", "Squeeze"):
            axes = at.get("axes") if opset < 13 else (None if len(ins) < 2 or ins[1] is None else ins[1])
            x = ins[0]
            if op == "Squeeze":
                if axes is None:
                    outs = [np.squeeze(x)]
                else:
                    outs = [np.squeeze(x, axis=tuple(int(a) % x.ndim for a in np.atleast_1d(axes)))]
            else:
                r = x.ndim + len(np.atleast_1d(axes))
                for a in sorted(int(a) % r for a in np.atleast_1d(axes)):
                    x = np.expand_dims(x, a)
                outs = [x]
        elif op == "Concat":
            outs = [np.concatenate(ins, axis=at["axis"])]
        elif op == "Expand":
            shape = np.broadcast_shapes(ins[0].shape, tuple(int(s) for s in ins[1]))
            outs = [np.broadcast_to(ins[0], shape).copy()]
        elif op == "Transpose":
            outs = [np.transpose(ins[0], at.get("perm"))]
        elif op == "Reshape":
            shape = [int(s) for s in ins[1]]
            shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            outs = [ins[0].reshape(shape)]
        elif op == "MatMul":
            outs = [ins[0] @ ins[1]]
        elif op == "Gemm":
            a = ins[0].T if at.get("transA", 0) else ins[0]
            b = ins[1].T if at.get("transB", 0) else ins[1]
            y = at.get("alpha", 1.0) * (a @ b)
            if len(ins) > 2 and ins[2] is not None:
                y = y + at.get("beta", 1.0) * ins[2]
            outs = [y]
        elif op == "Add":
            outs = [ins[0] + ins[1]]
        elif op == "Sub":
            outs = [ins[0] - ins[1]]
        elif op == "Mul":
            outs = [ins[0] * ins[1]]
        elif op == "Div":
            outs = [ins[0] / ins[1]]
        elif op == "Neg":
            outs = [-ins[0]]
        elif op == "Relu":
            outs = [np.maximum(ins[0], 0.0)]
        elif op == "Tanh":
            outs = [np.tanh(ins[0])]
        elif op == "Sigmoid":
            outs = [1.0 / (1.0 + np.exp(-ins[0]))]
        elif op == "Cast":
            to = at["to"]
            if to in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
                outs = [ins[0].astype(np.float64)]
            elif to == TensorProto.INT32:
                outs = [ins[0].astype(np.int32)]
            elif to == TensorProto.INT64:
                outs = [ins[0].astype(np.int64)]
            elif to == TensorProto.BOOL:
                outs = [ins[0].astype(bool)]
            else:
                raise NotImplementedError("Cast to %d" % to)
        elif op == "ConstantOfShape":
            v = at.get("value", np.zeros(1, np.float32))
            outs = [np.full(tuple(int(s) for s in ins[0]), f64(v).reshape(-1)[0], dtype=f64(v).dtype)]
        elif op == "Slice":
            x = ins[0]
            starts, ends = ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), np.int64)
            sl = [slice(None)] * x.ndim
            for s, e, a, st in zip(starts, ends, axes, steps):
                sl[int(a) % x.ndim] = slice(int(s), int(e), int(st))
            outs = [x[tuple(sl)]]
        elif op == "Split":
            axis = at.get("axis", 0)
            split = at.get("split") if opset < 13 else (ins[1] if len(ins) > 1 else None)
            if split is None:
                outs = np.split(ins[0], len(node.output), axis=axis)
            else:
                outs = np.split(ins[0], np.cumsum([int(s) for s in split])[:-1], axis=axis)
        elif op in ("LSTM", "GRU", "RNN"):
            outs, traces = recurrent(
                op, at, ins[0], ins[1], ins[2],
                Bias=get(node, 3), seq_lens=get(node, 4), init_h=get(node, 5),
                init_c=get(node, 6) if op == "LSTM" else None,
                P=get(node, 7) if op == "LSTM" else None)
            rec[node.name] = (node, at, traces, ins[0])
        else:
            raise NotImplementedError(op)
        for name, v in zip(node.output, outs):
            if name:
                env[name] = v
    return env, rec


# --------------------------------------------------------------------------------------
# Metrics (SPEC.md §4): saturation, retention, spectrum
# --------------------------------------------------------------------------------------


def saturation(gate, valid, low=None, high=None):
    low = SAT_LOW if low is None else low
    high = SAT_HIGH if high is None else high
    m = np.broadcast_to(valid[:, :, None], gate.shape)
    n = m.sum()
    left = (gate < low) & m
    right = (gate > high) & m
    per = m.sum(axis=(0, 1))
    return {
        "left": float(left.sum() / n),
        "right": float(right.sum() / n),
        "leftPerUnit": (left.sum(axis=(0, 1)) / per).tolist(),
        "rightPerUnit": (right.sum(axis=(0, 1)) / per).tolist(),
    }


def retention(f, valid, lens, dname):
    T, Bn, H = f.shape
    m = valid[:, :, None]
    mean_f = (f * m).sum(axis=(0, 1)) / m.sum(axis=(0, 1))
    horizon = [HORIZON_INF if mf >= 1.0 else float(1.0 / (1.0 - mf)) for mf in mean_f]
    highway = np.zeros(T)
    for t in range(T):
        s = 0.0
        for b in range(Bn):
            L = int(lens[b])
            if t >= L:
                continue
            ks = range(t + 1, L) if dname == "forward" else range(0, t)
            prod = np.ones(H)
            for k in ks:
                prod = prod * f[k, b]
            s += float((prod ** 2).sum())
        highway[t] = np.sqrt(s)
    return {"meanForget": mean_f.tolist(), "horizon": horizon, "cellHighway": highway.tolist()}


def smax(a):
    return float(np.linalg.svd(a, compute_uv=False)[0])


def spectrum(op, R, H):
    out = {name: smax(R[k * H: (k + 1) * H]) for k, name in enumerate(GATES[op])}
    out["all"] = smax(R)
    return out


# --------------------------------------------------------------------------------------
# Writing a case
# --------------------------------------------------------------------------------------

SUMMARY = []


def save(d, name, arr):
    np.save(os.path.join(d, name), np.ascontiguousarray(arr))
    return name


def write_case(name, description, model, feeds, check_model=True):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    if check_model:
        onnx.checker.check_model(model)
    names = [n.name for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
    assert all(names) and len(set(names)) == len(names), names
    onnx.save(model, os.path.join(d, "model.onnx"))

    env, rec = run_graph(model, feeds)
    init_names = {i.name for i in model.graph.initializer}
    inputs = {}
    for gi in model.graph.input:
        if gi.name in init_names:
            continue
        fname = "input_" + sanitize(gi.name) + ".npy"
        save(d, fname, feeds[gi.name])
        inputs[gi.name] = fname
    outputs = {}
    out_values = {}
    for go in model.graph.output:
        fname = "output_" + sanitize(go.name) + ".npy"
        v = env[go.name]
        save(d, fname, v)
        outputs[go.name] = fname
        out_values[go.name] = v

    layers = []
    for li, (nname, (node, at, traces, X)) in enumerate(rec.items()):
        op = node.op_type
        layout = int(at.get("layout", 0))
        H = int(at["hidden_size"])
        T, Bn = (X.shape[0], X.shape[1]) if layout == 0 else (X.shape[1], X.shape[0])
        dirs = []
        for tr in traces:
            pre = "layer%d_%s_" % (li, tr["direction"])
            entry = {"direction": tr["direction"], "gates": {}}
            for gname, gv in tr["gates"].items():
                entry["gates"][gname] = save(d, pre + "gate_" + gname + ".npy", gv)
            entry["hidden"] = save(d, pre + "state_hidden.npy", tr["hidden"])
            if op == "LSTM":
                entry["cell"] = save(d, pre + "state_cell.npy", tr["cell"])
            def sat(gname, v):
                # the candidate (LSTM cell, GRU hidden) uses the second activation, the other gates the first
                name, alpha, _ = tr["acts"][1 if gname in ("cell", "hidden") else 0]
                lo, hi = gate_thresholds(name, alpha)
                return dict(saturation(v, tr["valid"], lo, hi), low=lo, high=hi)
            metrics = {"saturation": {g: sat(g, v) for g, v in tr["gates"].items()}}
            if op == "LSTM":
                metrics["retention"] = retention(tr["gates"]["forget"], tr["valid"], tr["lens"], tr["direction"])
            metrics["spectrum"] = spectrum(op, tr["R"], H)
            entry["metrics"] = metrics
            dirs.append(entry)
        layers.append({
            "node": nname, "op": op, "direction": at.get("direction", "forward"), "layout": layout,
            "hiddenSize": H, "inputSize": int(X.shape[2]), "seqLen": int(T), "batch": int(Bn),
            "directions": dirs,
        })
    case = {"name": name, "description": description, "opset": opset_of(model),
            "inputs": inputs, "outputs": outputs, "layers": layers}
    with open(os.path.join(d, "case.json"), "w") as fh:
        json.dump(case, fh, indent=1)
        fh.write("\n")
    fsat = []
    for L in layers:
        for e in L["directions"]:
            s = e["metrics"]["saturation"].get("forget")
            if s:
                fsat.append("%.2f/%.2f" % (s["left"], s["right"]))
    SUMMARY.append((name, ",".join("%s:%s" % (L["op"], L["direction"][:3]) for L in layers),
                    ",".join(str(L["layout"]) for L in layers), " ".join(fsat)))
    return out_values


def sanitize(s):
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in s).strip("_") or "x"


# --------------------------------------------------------------------------------------
# PyTorch-exported cases (with a float64 self-check against the module itself)
# --------------------------------------------------------------------------------------

TORCH_DIFFS = []


def export_torch(module, args, input_names, output_names, opset=OPSET):
    module.eval()
    f = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, args, f, opset_version=opset, input_names=input_names,
                          output_names=output_names, do_constant_folding=True)
    model = onnx.load_from_string(f.getvalue())
    for i, n in enumerate(model.graph.node):
        if not n.name:
            n.name = "%s_%d" % (n.op_type, i)
    return model


def torch_case(name, description, module, args, input_names, output_names, opset=OPSET):
    model = export_torch(module, args, input_names, output_names, opset)
    feeds = {n: a.numpy() for n, a in zip(input_names, args)}
    ref = write_case(name, description, model, feeds)
    # self-check: the unrolled reference on the ONNX graph == the torch module in float64
    m64 = module.double().eval()
    with torch.no_grad():
        outs = m64(*[a.double() if a.is_floating_point() else a for a in args])
    outs = outs if isinstance(outs, tuple) else (outs,)
    worst = 0.0
    for oname, t in zip(output_names, outs):
        diff = float(np.max(np.abs(ref[oname] - t.numpy())))
        worst = max(worst, diff)
    TORCH_DIFFS.append((name, worst))
    assert worst < 1e-10, (name, worst)


class LstmNet(torch.nn.Module):
    def __init__(self, *a, **k):
        super().__init__()
        self.lstm = torch.nn.LSTM(*a, **k)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        return y, h, c


class LstmHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 5, batch_first=True)
        self.head = torch.nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.lstm(x)[0])


class EmbGru(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(11, 4)
        self.gru = torch.nn.GRU(4, 6)
        self.head = torch.nn.Linear(6, 3)

    def forward(self, ids):
        return self.head(self.gru(self.embed(ids))[0])


class RnnNet(torch.nn.Module):
    def __init__(self, *a, **k):
        super().__init__()
        self.rnn = torch.nn.RNN(*a, **k)

    def forward(self, x, h0=None):
        y, h = self.rnn(x, h0)
        return y, h


class GruNet(torch.nn.Module):
    def __init__(self, *a, **k):
        super().__init__()
        self.gru = torch.nn.GRU(*a, **k)

    def forward(self, x):
        y, h = self.gru(x)
        return y, h


def torch_cases():
    torch.manual_seed(1)
    torch_case("lstm_basic", "torch nn.LSTM(4, 6), T=7, B=2, exported opset 14 (zero initial state built by Expand).",
               LstmNet(4, 6), (torch.randn(7, 2, 4),), ["x"], ["y", "h_n", "c_n"])
    torch.manual_seed(2)
    torch_case("lstm_stacked_bidir",
               "torch nn.LSTM(3, 5, num_layers=2, bidirectional=True), T=6, B=2: two bidirectional LSTM nodes "
               "joined by Transpose+Reshape as torch emits them; h_n/c_n are Concats of both nodes' states.",
               LstmNet(3, 5, num_layers=2, bidirectional=True), (torch.randn(6, 2, 3),), ["x"], ["y", "h_n", "c_n"])
    torch.manual_seed(3)
    torch_case("lstm_batch_first",
               "torch nn.LSTM(4, 5, batch_first=True) + Linear(5, 2) head; input [B=3, T=5, 4]. torch exports a "
               "Transpose to time-major and a layout=0 LSTM, then Squeeze+Transpose back to batch-first.",
               LstmHead(), (torch.randn(3, 5, 4),), ["x"], ["y"])
    torch.manual_seed(4)
    torch_case("gru_embedding",
               "torch Embedding(11, 4) (Gather) + GRU(4, 6) (linear_before_reset=1) + Linear(6, 3); int64 token ids [T=8, B=2].",
               EmbGru(), (torch.randint(0, 11, (8, 2)),), ["ids"], ["logits"])
    torch.manual_seed(5)
    torch_case("rnn_tanh",
               "torch nn.RNN(3, 5, tanh), T=9, B=2, initial hidden state h0 [1, 2, 5] as a second graph input.",
               RnnNet(3, 5, nonlinearity="tanh"), (torch.randn(9, 2, 3), 0.5 * torch.randn(1, 2, 5)),
               ["x", "h0"], ["y", "h_n"])
    torch.manual_seed(6)
    torch_case("rnn_relu", "torch nn.RNN(3, 4, relu, num_layers=2), T=6, B=1: two RNN nodes (activations [Relu]) joined by Squeeze.",
               RnnNet(3, 4, nonlinearity="relu", num_layers=2), (torch.randn(6, 1, 3),), ["x"], ["y", "h_n"])
    torch.manual_seed(7)
    net = LstmNet(3, 6)
    with torch.no_grad():
        # torch gate order i, f, g, o: forget bias = chunk 1 of bias_ih; bias_hh forget chunk zeroed
        net.lstm.bias_ih_l0[6:9] = 4.0
        net.lstm.bias_ih_l0[9:12] = -4.0
        net.lstm.bias_hh_l0[6:12] = 0.0
    torch_case("lstm_forget_bias",
               "torch nn.LSTM(3, 6), T=12, B=2, forget bias forced to +4 for units 0-2 and -4 for units 3-5 "
               "(right- and left-saturated forget gates; long vs. no memory).",
               net, (torch.randn(12, 2, 3),), ["x"], ["y", "h_n", "c_n"])
    torch.manual_seed(8)
    torch_case("gru_bidir_opset11",
               "torch nn.GRU(3, 4, bidirectional=True), T=5, B=2, exported with opset 11 (Unsqueeze/Squeeze with axes attributes).",
               GruNet(3, 4, bidirectional=True), (torch.randn(5, 2, 3),), ["x"], ["y", "h_n"], opset=11)


# --------------------------------------------------------------------------------------
# Hand-built ONNX graphs
# --------------------------------------------------------------------------------------

RNG = np.random.default_rng(20240601)


def rnd(*shape, scale=0.5):
    return (scale * RNG.standard_normal(shape)).astype(np.float32)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def build(nodes, inputs, outputs, inits, name, opset=OPSET):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gradient-lens-fixtures")
    m.ir_version = 8
    return m


def rec_weights(op, D, H, I, bias=True, peep=False, scale=0.5):
    g = NGATE[op]
    ws = {"W": rnd(D, g * H, I, scale=scale), "R": rnd(D, g * H, H, scale=scale)}
    if bias:
        ws["B"] = rnd(D, 2 * g * H, scale=0.3)
    if peep:
        ws["P"] = rnd(D, 3 * H, scale=0.5)
    return ws


F = TensorProto.FLOAT
I32 = TensorProto.INT32


def hand_cases():
    # 9. layout=1, bidirectional, initial_h/initial_c as graph inputs
    B, T, I, H, D = 2, 5, 3, 4, 2
    w = rec_weights("LSTM", D, H, I)
    n = helper.make_node("LSTM", ["X", "W", "R", "B", "", "initial_h", "initial_c"], ["Y", "Y_h", "Y_c"],
                         name="lstm_layout1", hidden_size=H, direction="bidirectional", layout=1)
    m = build([n], [vi("X", F, [B, T, I]), vi("initial_h", F, [B, D, H]), vi("initial_c", F, [B, D, H])],
              [vi("Y", F, [B, T, D, H]), vi("Y_h", F, [B, D, H]), vi("Y_c", F, [B, D, H])],
              [init(k, v) for k, v in w.items()], "lstm_layout1")
    write_case("lstm_layout1",
               "LSTM layout=1 (X [B,T,I], Y [B,T,D,H], Y_h/Y_c [B,D,H]), bidirectional, initial_h/initial_c graph inputs "
               "([B,D,H]). onnxruntime refuses layout=1; the reference defines the values.",
               m, {"X": rnd(B, T, I, scale=1.0), "initial_h": rnd(B, D, H), "initial_c": rnd(B, D, H)})

    # 10. bidirectional with sequence_lens
    T, B, I, H, D = 7, 3, 3, 5, 2
    w = rec_weights("LSTM", D, H, I)
    n = helper.make_node("LSTM", ["X", "W", "R", "B", "seq_lens"], ["Y", "Y_h", "Y_c"],
                         name="lstm_seq_bidir", hidden_size=H, direction="bidirectional")
    m = build([n], [vi("X", F, [T, B, I]), vi("seq_lens", I32, [B])],
              [vi("Y", F, [T, D, B, H]), vi("Y_h", F, [D, B, H]), vi("Y_c", F, [D, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_seq_lens_bidir")
    write_case("lstm_seq_lens_bidir",
               "bidirectional LSTM with bias and sequence_lens=[5,3,7] (int32 graph input), T=7, B=3: padded steps "
               "are 0 in Y and every per-step tensor; the reverse direction starts at len[b]-1; Y_h/Y_c are the "
               "states at len[b]-1 (forward) / 0 (reverse).",
               m, {"X": rnd(T, B, I, scale=1.0), "seq_lens": np.array([5, 3, 7], np.int32)})

    # 11. peepholes + clip + initial state
    T, B, I, H = 6, 2, 3, 4
    w = rec_weights("LSTM", 1, H, I, peep=True, scale=0.8)
    n = helper.make_node("LSTM", ["X", "W", "R", "B", "", "initial_h", "initial_c", "P"], ["Y", "Y_h", "Y_c"],
                         name="lstm_peephole_clip", hidden_size=H, clip=0.8)
    m = build([n], [vi("X", F, [T, B, I]), vi("initial_h", F, [1, B, H]), vi("initial_c", F, [1, B, H])],
              [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H]), vi("Y_c", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_peephole_clip")
    write_case("lstm_peephole_clip",
               "forward LSTM with peepholes P=[Pi,Po,Pf] (Po uses the new C_t), clip=0.8 applied to every gate "
               "pre-activation (cell candidate included, not to C_t or h(C_t)), initial_h/initial_c graph inputs.",
               m, {"X": rnd(T, B, I, scale=1.5), "initial_h": rnd(1, B, H), "initial_c": rnd(1, B, H, scale=1.0)})

    # 12. input_forget, reverse
    T, B, I, H = 6, 2, 3, 4
    w = rec_weights("LSTM", 1, H, I)
    n = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"],
                         name="lstm_input_forget", hidden_size=H, direction="reverse", input_forget=1)
    m = build([n], [vi("X", F, [T, B, I])],
              [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H]), vi("Y_c", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_input_forget")
    write_case("lstm_input_forget",
               "reverse LSTM with input_forget=1. Coupling as onnxruntime implements it: i_t computed as usual, "
               "f_t = 1 - i_t (the forget rows of W/R/B are unused); gates.forget reports that 1 - i_t.",
               m, {"X": rnd(T, B, I, scale=1.0)})

    # 13. activations with alpha/beta
    T, B, I, H = 8, 2, 3, 5
    w = rec_weights("LSTM", 1, H, I, scale=0.8)
    n = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h"],
                         name="lstm_activations", hidden_size=H,
                         activations=["HardSigmoid", "Elu", "Softsign"],
                         activation_alpha=[0.3, 0.9], activation_beta=[0.45])
    m = build([n], [vi("X", F, [T, B, I])], [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_activations")
    write_case("lstm_activations",
               "LSTM activations [HardSigmoid, Elu, Softsign], activation_alpha=[0.3, 0.9], activation_beta=[0.45]: "
               "f=HardSigmoid(alpha 0.3, beta 0.45), g=Elu(alpha 0.9), h=Softsign. HardSigmoid gates reach exactly "
               "0 and 1; a retention horizon is written 1e30 when meanForget >= 1. Y_c not requested.",
               m, {"X": rnd(T, B, I, scale=1.5)})

    # 14. GRU linear_before_reset=0, reverse, sequence_lens
    T, B, I, H = 6, 3, 3, 5
    w = rec_weights("GRU", 1, H, I)
    n = helper.make_node("GRU", ["X", "W", "R", "B", "seq_lens"], ["Y", "Y_h"],
                         name="gru_lbr0_reverse", hidden_size=H, direction="reverse", linear_before_reset=0)
    m = build([n], [vi("X", F, [T, B, I]), vi("seq_lens", I32, [B])],
              [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "gru_lbr0_reverse")
    write_case("gru_lbr0_reverse",
               "reverse GRU, linear_before_reset=0 (h~ = g(X Wh + (r*H) Rh + Rbh + Wbh)), sequence_lens=[6,2,4]: "
               "the reverse direction starts at len[b]-1, Y_h is the state after t=0.",
               m, {"X": rnd(T, B, I, scale=1.0), "seq_lens": np.array([6, 2, 4], np.int32)})

    # 15. GRU linear_before_reset=1, bidirectional, Sigmoid/ScaledTanh, no B
    T, B, I, H, D = 5, 2, 3, 4, 2
    w = rec_weights("GRU", D, H, I, bias=False, scale=0.7)
    n = helper.make_node("GRU", ["X", "W", "R"], ["Y", "Y_h"],
                         name="gru_lbr1_activations", hidden_size=H, direction="bidirectional",
                         linear_before_reset=1,
                         activations=["Sigmoid", "ScaledTanh", "Sigmoid", "ScaledTanh"],
                         activation_alpha=[1.2, 1.1], activation_beta=[0.7, 0.6])
    m = build([n], [vi("X", F, [T, B, I])], [vi("Y", F, [T, D, B, H]), vi("Y_h", F, [D, B, H])],
              [init(k, v) for k, v in w.items()], "gru_lbr1_activations")
    write_case("gru_lbr1_activations",
               "bidirectional GRU, linear_before_reset=1, no B input, activations [Sigmoid, ScaledTanh, Sigmoid, "
               "ScaledTanh] with alpha=[1.2, 1.1], beta=[0.7, 0.6]: forward g = 1.2*tanh(0.7x), reverse g = "
               "1.1*tanh(0.6x) (alpha/beta consumed in order by the activations that take them).",
               m, {"X": rnd(T, B, I, scale=1.0)})

    # 16. RNN LeakyRelu/Affine, bidirectional, sequence_lens, clip
    T, B, I, H, D = 7, 3, 3, 4, 2
    w = rec_weights("RNN", D, H, I, scale=0.7)
    n = helper.make_node("RNN", ["X", "W", "R", "B", "seq_lens"], ["Y", "Y_h"],
                         name="rnn_activations_seq", hidden_size=H, direction="bidirectional",
                         activations=["LeakyRelu", "Affine"], activation_alpha=[0.1, 0.5],
                         activation_beta=[0.2], clip=2.0)
    m = build([n], [vi("X", F, [T, B, I]), vi("seq_lens", I32, [B])],
              [vi("Y", F, [T, D, B, H]), vi("Y_h", F, [D, B, H])],
              [init(k, v) for k, v in w.items()], "rnn_activations_seq")
    write_case("rnn_activations_seq",
               "bidirectional RNN, activations [LeakyRelu, Affine] (forward LeakyRelu alpha=0.1; reverse Affine "
               "alpha=0.5 beta=0.2: activation_alpha=[0.1, 0.5], activation_beta=[0.2]), clip=2.0 on the "
               "pre-activation, sequence_lens=[7,4,1].",
               m, {"X": rnd(T, B, I, scale=1.5), "seq_lens": np.array([7, 4, 1], np.int32)})

    # 17. RNN whose W/R/B come from Constant nodes
    T, B, I, H = 6, 2, 3, 4
    w = rec_weights("RNN", 1, H, I, scale=0.6)
    consts = [helper.make_node("Constant", [], [k + "_const"], name="const_" + k,
                               value=numpy_helper.from_array(v, k + "_value")) for k, v in w.items()]
    n = helper.make_node("RNN", ["X", "W_const", "R_const", "B_const"], ["Y", "Y_h"],
                         name="rnn_weights_constant", hidden_size=H)
    m = build(consts + [n], [vi("X", F, [T, B, I])], [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H])], [],
              "rnn_weights_constant")
    write_case("rnn_weights_constant",
               "forward tanh RNN whose W, R and B are outputs of Constant nodes (no initializers).",
               m, {"X": rnd(T, B, I, scale=1.0)})

    # 18. layout=1 forward with sequence_lens and peepholes
    B, T, I, H = 3, 6, 3, 4
    w = rec_weights("LSTM", 1, H, I, peep=True)
    n = helper.make_node("LSTM", ["X", "W", "R", "B", "seq_lens", "", "", "P"], ["Y", "Y_h", "Y_c"],
                         name="lstm_layout1_seq", hidden_size=H, layout=1)
    m = build([n], [vi("X", F, [B, T, I]), vi("seq_lens", I32, [B])],
              [vi("Y", F, [B, T, 1, H]), vi("Y_h", F, [B, 1, H]), vi("Y_c", F, [B, 1, H])],
              [init(k, v) for k, v in w.items()], "lstm_layout1_seq")
    write_case("lstm_layout1_seq",
               "forward LSTM layout=1 (X [B,T,I]) with sequence_lens=[6,3,5] and peepholes; per-step tensors are "
               "still [T,B,H]. onnxruntime refuses layout=1.",
               m, {"X": rnd(B, T, I, scale=1.0), "seq_lens": np.array([6, 3, 5], np.int32)})

    # 19. encoder/decoder
    T1, T2, B, I1, I2, H = 6, 4, 2, 3, 2, 5
    we = rec_weights("LSTM", 1, H, I1)
    wd = rec_weights("LSTM", 1, H, I2)
    head_w, head_b = rnd(H, 2), rnd(2, scale=0.1)
    nodes = [
        helper.make_node("LSTM", ["x_enc", "enc_W", "enc_R", "enc_B"], ["enc_Y", "enc_Y_h", "enc_Y_c"],
                         name="encoder", hidden_size=H),
        helper.make_node("LSTM", ["x_dec", "dec_W", "dec_R", "dec_B", "", "enc_Y_h", "enc_Y_c"], ["dec_Y", "", ""],
                         name="decoder", hidden_size=H),
        helper.make_node("Squeeze", ["dec_Y", "axes1"], ["dec_Y2"], name="squeeze_dir"),
        helper.make_node("MatMul", ["dec_Y2", "head_W"], ["head_mm"], name="head_matmul"),
        helper.make_node("Add", ["head_mm", "head_B"], ["y"], name="head_add"),
    ]
    inits = [init("enc_" + k, v) for k, v in we.items()] + [init("dec_" + k, v) for k, v in wd.items()]
    inits += [init("axes1", np.array([1], np.int64)), init("head_W", head_w), init("head_B", head_b)]
    m = build(nodes, [vi("x_enc", F, [T1, B, I1]), vi("x_dec", F, [T2, B, I2])], [vi("y", F, [T2, B, 2])],
              inits, "encdec")
    write_case("encdec",
               "encoder LSTM (T=6) whose Y_h/Y_c are the decoder LSTM's initial_h/initial_c; decoder X (T=4) is a "
               "second graph input; decoder Y -> Squeeze(axis 1) -> MatMul+Add head. The encoder's Y is unused.",
               m, {"x_enc": rnd(T1, B, I1, scale=1.0), "x_dec": rnd(T2, B, I2, scale=1.0)})

    # 20. GRU -> Squeeze -> Tanh -> Mul -> GRU
    T, B, I, H1, H2 = 6, 2, 3, 5, 4
    w1 = rec_weights("GRU", 1, H1, I)
    w2 = rec_weights("GRU", 1, H2, H1)
    nodes = [
        helper.make_node("GRU", ["x", "g1_W", "g1_R", "g1_B"], ["g1_Y", ""], name="gru_first", hidden_size=H1),
        helper.make_node("Squeeze", ["g1_Y", "axes1"], ["g1_seq"], name="squeeze_dir"),
        helper.make_node("Tanh", ["g1_seq"], ["g1_tanh"], name="tanh"),
        helper.make_node("Constant", [], ["scale"], name="scale_const",
                         value=numpy_helper.from_array(np.array(1.5, np.float32), "scale_value")),
        helper.make_node("Mul", ["g1_tanh", "scale"], ["g2_in"], name="scale_mul"),
        helper.make_node("GRU", ["g2_in", "g2_W", "g2_R", "g2_B"], ["y", "y_h"], name="gru_second",
                         hidden_size=H2),
    ]
    inits = [init("g1_" + k, v) for k, v in w1.items()] + [init("g2_" + k, v) for k, v in w2.items()]
    inits.append(init("axes1", np.array([1], np.int64)))
    m = build(nodes, [vi("x", F, [T, B, I])], [vi("y", F, [T, 1, B, H2]), vi("y_h", F, [1, B, H2])],
              inits, "gru_stacked_ops")
    write_case("gru_stacked_ops",
               "GRU(3->5) -> Squeeze(axis 1) -> Tanh -> Mul by Constant 1.5 -> GRU(5->4); outputs the second GRU's Y and Y_h.",
               m, {"x": rnd(T, B, I, scale=1.0)})


def bad_cases():
    d = os.path.join(OUT, "_bad")
    os.makedirs(d, exist_ok=True)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"], name="matmul"),
             helper.make_node("Relu", ["mm"], ["act"], name="relu"),
             helper.make_node("Add", ["act", "b"], ["y"], name="add")]
    m = build(nodes, [vi("x", F, [2, 3])], [vi("y", F, [2, 4])], [init("W", rnd(3, 4)), init("b", rnd(4))],
              "norecurrent")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(d, "norecurrent.onnx"))

    T, B, I, H = 5, 1, 3, 4
    w = rec_weights("RNN", 1, H, I)
    nodes = [helper.make_node("Mul", ["W0", "scale"], ["W_runtime"], name="scale_weights"),
             helper.make_node("RNN", ["x", "W_runtime", "R", "B"], ["y", "y_h"], name="rnn_runtime_w", hidden_size=H)]
    m = build(nodes, [vi("x", F, [T, B, I]), vi("scale", F, [1])], [vi("y", F, [T, 1, B, H]), vi("y_h", F, [1, B, H])],
              [init("W0", w["W"]), init("R", w["R"]), init("B", w["B"])], "rnn_runtime_weights")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(d, "rnn_runtime_weights.onnx"))
    bad = {"models": [
        {"file": "norecurrent.onnx",
         "contains": "MatMul -> Relu -> Add on input x [2,3]; no LSTM/GRU/RNN node",
         "problem": "no recurrent layer to analyse"},
        {"file": "rnn_runtime_weights.onnx",
         "contains": "RNN 'rnn_runtime_w' (H=4, I=3, T=5, B=1) whose W input is Mul(W0 initializer, scale graph input [1]); "
                     "R and B are initializers",
         "problem": "a recurrent weight (W) is computed at run time from a graph input, not a constant initializer/Constant"},
    ]}
    with open(os.path.join(d, "bad.json"), "w") as fh:
        json.dump(bad, fh, indent=1)
        fh.write("\n")


# --------------------------------------------------------------------------------------
# Oracle self-check against ONNX's backend test data
# --------------------------------------------------------------------------------------


def check_backend_testdata():
    results = []
    if not os.path.isdir(TESTDATA):
        raise SystemExit("error: %s is missing: the oracle's self-check against ONNX's backend test data cannot "
                         "run. Install Debian's libonnx-testdata package (apt-get install libonnx-testdata)."
                         % TESTDATA)
    for case in sorted(os.listdir(TESTDATA)):
        if not any(case.startswith("test_" + p + "_") for p in ("lstm", "gru", "rnn", "simple_rnn")):
            continue
        model = onnx.load(os.path.join(TESTDATA, case, "model.onnx"))
        ds = os.path.join(TESTDATA, case, "test_data_set_0")
        real_inputs = [i.name for i in model.graph.input if i.name not in {x.name for x in model.graph.initializer}]
        feeds = {}
        for k, name in enumerate(real_inputs):
            t = TensorProto()
            with open(os.path.join(ds, "input_%d.pb" % k), "rb") as fh:
                t.ParseFromString(fh.read())
            feeds[name] = numpy_helper.to_array(t)
        env, _ = run_graph(model, feeds)
        worst = 0.0
        for k, go in enumerate(model.graph.output):
            t = TensorProto()
            with open(os.path.join(ds, "output_%d.pb" % k), "rb") as fh:
                t.ParseFromString(fh.read())
            exp = numpy_helper.to_array(t)
            worst = max(worst, float(np.max(np.abs(env[go.name] - exp))))
        results.append((case, worst))
        assert worst < 1e-5, (case, worst)
    if not any(c.startswith("test_" + p + "_") for c, _ in results for p in ("lstm", "gru", "rnn")):
        raise SystemExit("error: %s holds no test_{lstm,gru,rnn}_* cases: reinstall Debian's libonnx-testdata "
                         "package (apt-get install libonnx-testdata)." % TESTDATA)
    return results


def main():
    backend = check_backend_testdata()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    torch_cases()
    hand_cases()
    bad_cases()

    print("oracle vs ONNX backend test data (max |diff|):")
    for case, worst in backend:
        print("  %-36s %.3g" % (case, worst))
    print("oracle vs torch module in float64 (max |diff| over graph outputs):")
    for case, worst in TORCH_DIFFS:
        print("  %-36s %.3g" % (case, worst))
    print()
    print("%-22s %-40s %-7s %s" % ("case", "layers", "layout", "forget sat left/right"))
    for row in SUMMARY:
        print("%-22s %-40s %-7s %s" % row)
    total = 0
    for dp, _, fs in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dp, f)) for f in fs)
    print("\n%d cases, %.1f kB in %s" % (len(SUMMARY), total / 1024, os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    sys.exit(main())
