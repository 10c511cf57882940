#!/usr/bin/env python3
"""Backward-pass (gradient) fixtures for Gradient Lens: ``test/fixtures/backward/<case>/``.

Regenerate with ``/usr/bin/python3 scripts/make_backward_fixtures.py`` (deterministic: fixed
seeds; idempotent: the whole ``test/fixtures/backward`` directory is deleted and rewritten;
about 2 minutes on 2 CPU cores, most of it the finite-difference self-checks).

Each case directory holds ``model.onnx`` (float32 weights), one ``.npy`` per graph input
(float32, int64 token ids, int32 sequence_lens), the target ``.npy`` of ``target`` objectives,
the reference graph outputs, and ``case.json``::

    { "name", "description", "opset",
      "inputs":  { "<graph input>": "<file.npy>" },
      "outputs": { "<graph output>": "<file.npy>" },            # float64 reference values
      "calls": N, "state": [ ["<S_in>", "<S_out>"], ... ],      # streaming models only (below)
      "runs": [ {
          "objective": { "kind": "sum"|"mean"|"l2"|"last"|"target", "output": "<graph output>",
                         "timeAxis": k|null, "target": "<file.npy>"|null },
          "value": L,
          "inputGrads": { "<graph input>": "<file>" },   # float64; only inputs with a path to L
          "layers": [ { "node": "<ONNX node name>", "op": "LSTM"|"GRU"|"RNN",
                        "path": ["<node>", ...],              # see "Control flow" below
                        "iterations": n, "stepsPerIteration": T_iter,   # Loop / Scan, streaming
                        "directions": [ {
              "direction": "forward"|"reverse",
              "gradHidden": "<file>", "gradCell": "<file>" (LSTM),      # [T,B,H] float64
              "jacobianNorm": { "hidden": "<file>", "cell": "<file>" (LSTM),
                                "state": "<file>" },                     # [T] float64
              "weightGrads": { "W": "<file>" [gH,I], "R": [gH,H], "B": [2gH], "P": [3H] (if P input) },
              "gradNorm": [T], "gradCellNorm": [T] (LSTM), "inputGradNorm": [T],
              "decay": { "basis": "state", "rho", "slope", "rhoTail", "survival", "halfLife",
                         "reach", "verdict", "points", "window" },
              "decayPaths": { "hidden": {decay, "basis": "hidden"},
                              "cell": {decay, "basis": "cell"} } (LSTM),
              "cellHighway": [T] (LSTM) } ] },
            { "node": "<state names joined by '+'>", "op": "state",     # state layers (below),
              "path": [...], "iterations": T, "stepsPerIteration": 1,    # after the op layers
              "stateVars": [ { "name", "shape", "batchAxis": k|null } ],
              "directions": [ { "direction": "forward",
                  "hidden": "<file>", "gradHidden": "<file>",               # [T,B,H] float64
                  "jacobianNorm": { "hidden": "<file>", "state": "<file>" },  # [T], equal
                  "gates": { "<gate>": "<file>" } (cells written with plain ops), # [T,B,Hc]
                  "gradNorm": [T], "decay": {...} } ] } ],
          "clipping": { "globalNorm": G, "factors": { "1": f, "5": f } } } ],
      ...case-specific fields (see "Case-specific fields" below) }

Control flow (If, Loop, Scan): what an engine reports
-----------------------------------------------------
Models exported with control flow (torch.jit.script'ed modules, hand-built graphs) hold recurrent
nodes inside If branches and Loop / Scan bodies. The contract, for every reference quantity above:

- **If**: the condition is evaluated for the given inputs and only the branch taken runs. A
  recurrent node inside a taken branch (nested Ifs, values of enclosing scopes used inside the
  branch) is reported like a top-level one; nodes of branches not taken are not reported at all.
  ``layers[].path`` is the chain of enclosing node names and branch attribute names ending at the
  node, e.g. ``["/If_2", "then_branch", "/If", "else_branch", "/LSTM_1"]`` (node names as in the
  model: exporters' names are kept; unnamed nodes get ``<op>_<k>``); a top-level layer's path is
  ``["<node>"]``.
- **Loop / Scan with a recurrent node in the body**: the node is reported once, over its
  iterations: every per-step quantity is the concatenation over iterations along time (iteration
  i, step s of that iteration -> t = i * T_iter + s; a Scan running one step per iteration has
  T_iter = 1 and T = the number of iterations). ``iterations`` and ``stepsPerIteration`` give n and
  T_iter; the layer's seqLen (the length of every per-step array) is n * T_iter. gradHidden /
  gradCell are dL/dh_t, dL/dc_t of the whole computation (every path: later iterations through the
  carried state, scan outputs, carried concatenations). jacobianNorm (hidden, cell, state) is
  taken through the layer's recurrence *including across iterations through the loop-carried
  state*: seeds on the state after the last iteration's last step, perturbations of h_t / c_t at
  any step of any iteration, the layer's input sequence held fixed. weightGrads are the sums over
  iterations (one node, one set of weights); inputGradNorm is per concatenated step; decay is fitted
  over the concatenated window. ``path`` = ``["<Loop or Scan node>", "body", "<node>"]``.
- **Weights computed from constants** (Slice / Concat / Unsqueeze / Transpose of Constant nodes or
  initializers, as exporters reorder gate blocks, also inside branches and bodies) are ordinary:
  the reference evaluates them; W, R, B, P of weightGrads are the node's inputs as computed.

How the reference implements it, and what it asserts: If / Loop / Scan are evaluated by the
interpreter with ONNX semantics (If: ``then_branch`` when the condition is true; Loop: trip count
M and/or condition, carried values, scan outputs stacked on a new axis 0; Scan (opset >= 9): N
states then ``num_scan_inputs`` inputs sliced along ``scan_input_axes`` (read backwards for
direction 1), scan outputs stacked along ``scan_output_axes`` (reversed for direction 1)); a body
or branch sees every value of its enclosing scopes. A recurrent node executed again in the same
evaluation (the next iteration) is appended to its first execution's trace: the same weight
leaves (so their .grad sums the iterations; the weights computed each iteration are asserted
equal to the first's), retain_grad on every step's h_t / c_t, perturbation hooks addressed by the
concatenated t, each execution's own X_d copy. The state an iteration starts from is asserted
bit-identical to the state the previous iteration ended with (identity plumbing), so the
across-iteration Jacobian equals the one of a single run over the concatenated sequence from the
first iteration's initial state, which is how jacobianNorm is computed; it is also finite-
differenced through the whole graph (the Loop / Scan itself; the state Jacobian at up to 8 steps
next to iteration boundaries), asserting that the layer's input sequence does not move when its
state is perturbed. Repeated nodes must run forward without sequence_lens (asserted: for a reverse
or padded layer inside a loop the concatenation above does not define one recurrence). The
forward cross-check against make_fixtures.recurrent runs on every iteration.

Streaming calls and state recurrences (SPEC v2 section 9.1): what an engine reports
------------------------------------------------------------------------------------
**Streaming (calls).** A case with ``"calls": N`` is a streaming model: its *state pairs*
``"state": [[S_in, S_out], ...]`` are a graph input and a graph output of the same dtype and
shape (``state`` -> ``stateN``, ``h`` -> ``hn``, ``c`` -> ``cn``). The model is run for N
consecutive calls; each call's S_out is fed to the next call's S_in.

- Inputs. The initial value of S_in is its input file, or zeros when ``inputs`` does not name it
  (then its shape is static in the model). Any other input whose file has one more axis than the
  graph input (a leading axis of length N) is fed one slice per call (``x`` [N, ...]); otherwise
  the same value is fed to every call (``sr``, a 0-d int64 file). A state input's file is always
  the initial state, never per call.
- Objective. L = sum over calls of obj(y_call), y_call the chosen output of that call, obj the
  per-call objective: sum; mean (within the call); l2; target = mean squared error within the call
  against the target's slice n (the target file is [N, ...]). ``last``: L = the sum of the LAST
  call's output alone, of its last step along ``timeAxis`` when that is given (an axis of the
  per-call output; null: the whole last call's output).
- ``outputs``: every graph output (state outputs included), per call, stacked on a new leading
  axis: [N, ...]. ``inputGrads``: a per-call input -> [N, ...] (each call's own slice's gradient);
  an input fed the same every call -> its own shape, the sum over calls; a state input -> dL/d(its
  initial value). A state input left at zeros (not in ``inputs``) still gets its inputGrads entry
  (the gradient at the zero initial state) when it has a path to L.
- Recurrent op layers. Every layer's time axis is the concatenation over calls: t = n * T_call + s
  (call n, step s). An LSTM / GRU / RNN node of the model is reported like a layer in a Loop:
  ``iterations`` N, ``stepsPerIteration`` T_call, ``path`` its path in the model (no prefix for
  the calls); gradHidden, gradCell, jacobianNorm, decay, inputGradNorm are over the concatenated
  steps, across call boundaries through the state pairs (whatever ops connect S_in to the node's
  initial_h / initial_c and its Y_h / Y_c to S_out); weightGrads are the sums over calls.

**State recurrences** (``"op": "state"``). A Loop / Scan carried value, or a streaming state pair,
whose step function is not an LSTM / GRU / RNN node. A carried value (body input of a Loop / Scan;
S_in of a pair) is *covered* by an op layer when it flows, through any ops (subgraphs included),
into a recurrent node's initial_h / initial_c; covered values are not state layers. The state
values of a state layer are the uncovered carried values that are float and keep their shape from
step to step (a carried value whose shape changes, e.g. torch.cat's accumulator, is not a state).
All state values of one Loop / Scan form ONE state layer, and all uncovered state pairs of a
streaming model form one. State layers come after the op layers in ``layers`` (Loop / Scan ones
in the order the Loop / Scan first runs, then the streaming one).

- ``node``: the state values' names joined with "+" (streaming: the S_in names, e.g. "state",
  "h+c"; Loop / Scan: the body input names of the carried values, e.g. "h_prev+c_prev");
  ``path``: streaming ``[node]``, Loop / Scan ``[<path of the Loop / Scan node>..., "body",
  node]``; ``iterations`` T (the number of calls / iterations), ``stepsPerIteration`` 1;
  ``stateVars``: per state value its name, shape and batch axis (null: none).
- Layout [T, B, H] of ``hidden``, ``gradHidden`` (and the Jacobian's units): a state value's batch
  axis moved first, the remaining axes flattened in C order (a [2, B, H] stacked h / c state ->
  [B, 2H], index k * H + j); several state values concatenated along H in carried / pair order. No
  batch axis (or B = 1): B = 1 and H is its element count. Every state value of a layer has the
  same B.
- ``hidden[t]``: the state after step t (the carried value leaving iteration t; S_out of call t).
- ``gradHidden[t]`` = dL/d(state after step t), every path. The state after step t is perturbed
  *where it is produced*: S_out (or the body's carried output) is traced back, within the step's
  scope, through layout ops (Identity, Unsqueeze, Squeeze, Reshape, Flatten, Transpose, Concat) to
  the values it is assembled from, and the perturbation is added to those values, so every
  consumer of them sees it: the next step, and the same step's other consumers (an output head
  reading h', and h' = o * tanh(c') when c' moves). This is the perturbation of an op layer's
  gradHidden / gradCell: for a stacked (h, c) state the h half equals an LSTM's gradHidden and the
  c half its gradCell (stream_handcell, asserted against stream_lstmcell_if).
- ``jacobianNorm.state`` (``hidden`` is the same array, its own file) =
  sqrt(sum_b ||d s_last[b] / d s_t[b]||_F^2), s_last the state after the last step, s_t the state
  after step t perturbed as *carried* (added to the value the next step reads: nothing of step t
  moves, as for an op layer's state Jacobian), through the whole model (other inputs of the step
  held at their values). At t = T-1 it is sqrt(B * H). Computed on the full state (the engine's
  norm); no batch element's state moves another's here (asserted), so it is the per-element sum.
- ``gates`` (only when the step is recognisably an LSTM / GRU cell written with plain ops; the
  cases here: LSTM = MatMul / Gemm of x plus MatMul / Gemm of h (+ bias) -> Split into 4 ->
  Sigmoid / Tanh, c' = f * c + i * g, h' = o * tanh(c'); GRU = MatMul of x -> Split into 3 and
  MatMul of h -> Split into 2 (z, r), n = tanh(x_n + (r * h) U_n + b_n), h' = (1 - z) * n + z * h):
  LSTM ``input``, ``forget``, ``output``, ``cell`` (the candidate), GRU ``update``, ``reset``,
  ``hidden`` (the candidate), each [T, B, H_cell], the gate activations' float64 values (to check
  the engine's forward). A gate is named by its role in the cell (the Split order is the
  framework's: torch and Keras i, f, g/c, o), not by its position.
- ``gradNorm``, ``decay`` (basis "state", window T, fitted on jacobianNorm.state) as for op layers.
  No weightGrads, spectrum, inputGradNorm, decayPaths, cellHighway. A case with state layers only
  has no weight gradients: ``clipping`` is {globalNorm 0, factors 1} (nothing to clip).
- Files: ``layer<k>_forward_hidden.npy``, ``layer<k>_forward_jacobian_{hidden,state}.npy``,
  ``layer<k>_forward_gate_<gate>.npy`` (objective-independent, written once), and per run
  ``run<r>_layer<k>_forward_grad_hidden.npy``; k counts the op layers first.

How the reference implements it, and what it asserts: a streaming model runs its N calls in one
evaluation (evaluate_stream), so a recurrent node's calls are appended to one trace exactly as a
loop's iterations (identity plumbing asserted bit for bit between calls, the state Jacobian also
finite-differenced through the N calls); the objective is built on the per-call outputs stacked.
State layers: the carried values leaving each step are recorded (and can be perturbed there:
carry_pert); the values a state is assembled from are tracked, kept (retain_grad) and can be
perturbed where produced (src_pert); which source element lands where in the state is found by
an evaluation that replaces step t's sources by distinct integers (src_set), asserted to be a
bijection. gradHidden = the sources' .grad in the pass whose graph inputs are leaves, laid out as
the state. The Jacobian: zero leaves added to the carried state leaving every step, one
torch.autograd.grad per unit of s_last through the whole model. Checks: gradHidden at 6 (t, b, j)
per state layer and the Jacobian at every step (T <= 12) are finite-differenced through the whole
model (+-eps on one source element where produced; +-eps on one unit of the carried state for the
whole batch, output s_last); the state layer's values, gradHidden, hidden and gates equal those of
the same computation written in torch (the module, or a torch function for the hand-built Loop /
Scan), run call by call / step by step in float64.

How the references are computed
-------------------------------
Every op of the model is evaluated in torch float64 by a small ONNX interpreter in this file;
LSTM / GRU / RNN nodes are unrolled step by step from the ONNX operator definitions (not
torch.nn.LSTM/GRU/RNN, not onnxruntime), with the conventions of ``make_fixtures.py``: gate
order LSTM i,o,f,c and GRU z,r,h, B = [Wb, Rb], P = [Pi, Po, Pf] (Po uses the new C_t),
``clip`` clamps every gate pre-activation (cell candidate included), ``input_forget=1`` is
onnxruntime's f = 1 - i, activation_alpha/beta are consumed in order by the activations that
take them, and padded steps (sequence_lens) leave the state unchanged and output 0.

- The objective L is built on the chosen graph output and ``L.backward()`` is called.
  ``gradHidden[t]`` / ``gradCell[t]`` are the ``.grad`` of the step's new state tensors h_t /
  c_t (``retain_grad()``), i.e. the total derivative over every path; rows of padded
  positions are 0 (those step results are discarded by the op, so nothing depends on them).
  h_t is the step's new hidden state *given* c_t (h_t = o * h(c_t) is downstream of c_t), so
  dL/dc_t includes the path through h_t and the output-gate peephole, dL/dh_t does not
  include c_t.
- ``weightGrads`` are gradients with respect to per-direction leaf tensors that replace the
  node's W[d], R[d], B[d] (zeros when the node has no B: the gradient of an implicit zero
  bias) and P[d] (only when the node has a P input). Under ``input_forget=1`` the forget rows
  of W/R/B/P and Pf do not enter the computation: their gradients are exactly 0.
- ``jacobianNorm`` comes from a separate unrolled run of just that layer-direction with its
  input sequence X, weights and initial state detached (constants): for each output unit j,
  one ``torch.autograd.grad`` of h_last[:, j] (resp. c_last[:, j]) with respect to every
  step's h_t (resp. c_t) gives row j of each batch element's Jacobian (batch elements are
  independent). Entry t = sqrt(sum_b ||dh_last[b]/dh_t[b]||_F^2); padded (t, b) contribute 0.
  "last" is per batch element: the state after step len[b]-1 (forward) / step 0 (reverse). The
  ``hidden`` perturbation is the one of gradHidden (h_t moves, c_t does not); the ``cell``
  perturbation is the one of gradCell (c_t moves *and* so do h_t = o*h(c_t) and the Po
  peephole of the same step).
- ``jacobianNorm.state`` is the state-space Jacobian. The state carried from step t to step t+1
  is s_t = (h_t, c_t) for LSTM and s_t = h_t for GRU/RNN; perturbations of h_t and of c_t are
  independent perturbations of that carried state: perturbing c_t does NOT change h_t of the
  same step nor that step's output gate (Po peephole), it reaches only later steps; perturbing
  h_t does not change c_t. Computed on the same isolated run: a zero leaf is added to every
  step's carried h_t (after h_t is computed) and, for LSTM, another to the carried c_t (after
  h_t and o_t have used c_t); the gradient with respect to a leaf is the derivative with
  respect to the carried state. For each of the 2H outputs (h_last[:, j], then c_last[:, j];
  seeds on both) one ``torch.autograd.grad`` gives a row of each batch element's
  [2H, 2H] Jacobian d(h_last, c_last)[b] / d(h_t, c_t)[b]. Entry t = sqrt(sum_b ||.||_F^2),
  same masking and per-element "last" as above. At the direction's last valid step the
  Jacobian is the identity: sqrt(2*B*H) (LSTM), sqrt(B*H) (GRU/RNN) when no element is
  padded there. Its (h_last, h_t) block is exactly the ``hidden`` Jacobian (asserted); the
  ``cell`` Jacobian is not its (c_last, c_t) block but cc + ch * dh_t/dc_t. For GRU and RNN
  ``state`` equals ``hidden`` (asserted; written to its own file).
- ``inputGrads`` (per run) and ``inputGradNorm`` (per direction) come from a second evaluation
  of the graph (same L, asserted bit-identical, same weight gradients) in which every float
  graph input is a leaf requiring grad, and the output of every Gather whose indices are an
  integer graph input and whose data is a float initializer (an embedding lookup) is made a
  leaf. ``inputGrads[x]`` = dL/dx with x's own shape (file run<r>_inputgrad_<x>.npy); for an
  embedding's ids it is the gradient of the looked-up rows, the Gather output's grad, shape
  ids.shape + [E]. Graph inputs whose leaf gets no gradient (no differentiable path to L:
  sequence_lens, an input feeding only Shape or other graph outputs) are left out; an input
  on the path whose gradient happens to be 0 is kept (zeros).
  In that evaluation every direction of every recurrent node reads its own identity copy X_d
  of the node's input sequence X (time-major, i.e. after the layout=1 transpose); the .grad
  of X_d is the gradient *this direction* sends into X (the directions' copies sum to the
  gradient of X; for a unidirectional layer whose X has no other consumer it is dL/dX).
  ``inputGradNorm[t]`` = ||dL/dX_d[t]||_2 over (B, I); padded (t, b) rows are 0.
- ``clip`` and HardSigmoid/Relu use torch semantics at their kinks: torch.clamp passes the
  gradient when the input equals the bound exactly (0 strictly outside), relu'(0) = 0. The
  fixtures keep every kinked pre-activation well away from its kink (checked), so this
  convention never decides a number here.

Metrics (SPEC.md section 4)
---------------------------
- ``gradNorm[t]`` = ||gradHidden[t]||_2 over (B, H), ``gradCellNorm`` likewise.
- ``decay`` is fitted on jn = jacobianNorm.state, ``"basis": "state"``. ``decayPaths`` (LSTM
  only) holds the same fit on jacobianNorm.hidden (``"basis": "hidden"``) and on
  jacobianNorm.cell (``"basis": "cell"``). The fit (SPEC v2 section 9.2): the window is t = 0 .. maxlen-1 (maxlen = max(sequence_lens),
  else T), W = maxlen; last = maxlen-1 (forward) / 0 (reverse); d = |last - t|. Points with
  jn > 0 (exact zeros dropped) are fitted: log(jn) = a + slope * d by least squares; rho =
  exp(slope) (null with fewer than 2 points); rhoTail the same fit over d >= ceil(W/2);
  survival = jn(d=W-1) / jn(d=0); halfLife = ln(1/2)/ln(rho) when rho < 1 else null; reach =
  the largest d in the window with jn >= 1e-3 * jn(d=0), null ("beyond T") when every d
  passes; verdict: invalid (a NaN/inf in the window), n/a (W < 4 or jn(d=0) = 0), exploding
  (survival > 1e3 or rhoTail > 1.05), vanishing (survival < 1e-3 or rhoTail < 0.95), else
  stable; points = number fitted.
- ``cellHighway`` as in the forward fixtures (make_fixtures.retention).
- ``clipping``: G = sqrt(sum of squares of every weightGrads tensor of the run, all layers,
  directions, W/R/B/P); factors min(1, theta/G) for theta = 1, 5.

Case-specific fields
--------------------
- ``"float32Overflow": true, "float32OverflowStep": t`` (rnn_relu_overflow): the recurrence
  run in float32 NumPy with the case's weights and inputs (h_0 = 0,
  h_t = relu(x_t W^T + h_{t-1} R^T + Wb + Rb), every operation in float32) first holds a
  non-finite h_t at step t (0-based). Every reference of the case is the float64 one (all
  finite); a float32 engine is expected to report the non-finite values, not to match them.
- ``"forgetSaturated": [ { "node", "direction", "units": [j, ...] } ]`` (lstm_forget_saturated):
  units whose forget gate is exactly 1.0 at every valid step of the float64 run (asserted); a
  float64 logistic value that rounds to 1.0 is within 2^-53 of 1, so it is 1.0 in float32 too.
  Their meanForget is 1 and their retention horizon 1e30 (make_fixtures.retention, asserted).

Self-checks run every time (the script fails if one does not hold)
-------------------------------------------------------------------
- streaming and state cases: the torch module (or the same computation written in torch) is run
  call by call / step by step in float64 and matches every stacked output (1e-12), L, every
  inputGrads tensor, the recurrent weights' gradients (summed over calls) and, for state layers,
  gradHidden, hidden and gates (1e-10); stream_handcell's state layer equals stream_lstmcell_if's
  LSTM (jacobianNorm.state, gradHidden = (gradHidden, gradCell), L, inputGrads, to float64
  rounding); every state layer's last jacobianNorm entry is sqrt(B*H); the models hold the
  structure their descriptions name (If with a Conv per branch, an LSTM node fed from the state /
  no recurrent node at all, Gemm + Gemm -> Add -> Split into 4 -> Sigmoid / Tanh);
- make_fixtures.recurrent (the NumPy reference below) reproduces ONNX's own backend test data
  (/usr/share/libonnx-testdata/data/node/test_{lstm,gru,rnn,simple_rnn}_*, within 1e-5). The
  data is required: without Debian's ``libonnx-testdata`` package the script stops with an
  error naming it;
- the torch unrolled forward matches make_fixtures.recurrent (the NumPy reference of the
  forward fixtures) on every recurrent node: Y, Y_h, Y_c, per-step h, c, forget gate;
- torch-exported cases: graph outputs, L, every weight gradient and every inputGrads tensor
  (the module's x.grad; for ids, the grad of nn.Embedding's output) match the PyTorch module
  itself evaluated in float64 with autograd (torch's gate order mapped to ONNX's); for the
  control-flow cases (VAD with Ifs, LSTM in a Loop, GRU in a Scan, batch-first conv front end) every
  graph output is also compared with the module's (1e-12), and the module's weight gradients
  collect every call of the shared nn.LSTM / nn.GRU (the sum over iterations);
- control flow: only the taken branch's layers are reported, with the expected path; loop-carried
  layers have the expected iterations x stepsPerIteration; identity plumbing between iterations
  and equal weights in every iteration (see "Control flow"); the exported models really hold
  their If / Loop structure (no LSTM at the top level, one per branch / in the body);
- Relu inputs and MaxPool runner-ups outside the recurrent nodes stay more than 1e-3 (VAD: 2e-3)
  from their kinks, so no finite difference crosses one;
- the state Jacobian's (h_last, h_t) block equals the hidden Jacobian; GRU/RNN state = hidden;
  the last valid step's value is sqrt(B*H) (hidden, cell) / sqrt(2*B*H) (LSTM state) when no
  element is padded;
- when a recurrent node's X is a float graph input with no other consumer, the sum over its
  directions of dL/dX_d equals inputGrads[X] (transposed for layout=1);
- each case asserts the property it exists for (its ``expect`` / ``on_forward`` checks, named
  in its description: verdicts, closed forms, exact zeros, shapes, which inputs have
  gradients), and every ONNX recurrent activation (Relu, Tanh, Sigmoid, Affine, LeakyRelu,
  ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus) appears in some case,
  with non-default alpha/beta in at least one when it takes them;
- central finite differences in float64 (fourth-order stencil
  f' ~ (-f(2e) + 8f(e) - 8f(-e) + f(-2e)) / 12e, e = 1e-4; 5e-4 for the two VAD cases, whose
  gradients are ~1e-3 of L, so that L's rounding stays ~1e-7 of the error floor): every weight
  entry for small cases, a random sample otherwise (always sampled for lstm_in_loop); a sample of (t, b, j) of h_t and c_t via perturbation hooks
  (a +-eps added to the step's new state); the per-step Jacobians behind jacobianNorm, the
  state Jacobian through hooks that add +-eps to one unit of the carried h_t or the carried c_t
  (after h_t and o_t used c_t) for the whole batch, output (h_last, c_last): every step when
  T <= 12, else at most 12 steps (0, 1, T-2, T-1 and 8 drawn; the long cases' far steps are
  covered by their closed forms); every inputGrads entry when the input has at most 24
  entries, else 12 drawn ones and the largest (+-eps on the feed, or on the Gather output for
  an embedding); 6 (t, b, i) per direction of its X_d copy (+-eps on that copy alone).
  Error measure |ad - fd| / max(|ad|, |fd|, 1e-3 * scale) (scale = largest |value| of that
  family), asserted < 1e-6.

``test/fixtures/backward/_unsupported/`` holds a model whose gradient path crosses two ops
with no VJP rule (see its ``unsupported.json``).
"""

import io
import json
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (forward reference: recurrent kernels, helpers)

torch.set_num_threads(2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "backward")
OPSET = 14
F = TensorProto.FLOAT
I32 = TensorProto.INT32
I64 = TensorProto.INT64
RECURRENT = ("LSTM", "GRU", "RNN")
NGATE, NACT, DEFAULT_ACTS = mf.NGATE, mf.NACT, mf.DEFAULT_ACTS

FD_EPS = 1e-4
# fourth-order central difference: f'(x) ~ sum(c * f(x + s*eps)) / eps
FD_STENCIL = ((2.0, -1.0 / 12.0), (1.0, 8.0 / 12.0), (-1.0, -8.0 / 12.0), (-2.0, 1.0 / 12.0))


def fd_combine(vals):
    return sum(c * v for (_, c), v in zip(FD_STENCIL, vals)) / FD_EPS

FD_TOL = 1e-6
FULL_FD_MAX = 400      # every weight entry is checked when the model has at most this many
FD_SAMPLE = 12         # otherwise this many entries per weight tensor
FD_STATE_SAMPLE = 6    # (t, b, j) samples per layer-direction for h_t and c_t (and X_t)
FD_INPUT_SAMPLE = 12   # entries per graph-input gradient (all when it has at most 2x this many)
FULL_JAC_FD_T = 12     # per-step Jacobians: every step when T <= this, else this many steps
KINK_MIN = 1e-3        # kinked pre-activations must stay this far from their kink


# --------------------------------------------------------------------------------------
# torch activations (same binding rule as make_fixtures.resolve_activations)
# --------------------------------------------------------------------------------------


def t_activation(name, a, b):
    """Returns (function, kink points in the argument)."""
    n = name.lower()
    if n == "relu":
        return torch.relu, [0.0]
    if n == "tanh":
        return torch.tanh, []
    if n == "sigmoid":
        return torch.sigmoid, []
    if n == "softsign":
        return (lambda x: x / (1.0 + torch.abs(x))), []
    if n == "softplus":
        return (lambda x: torch.logaddexp(x, torch.zeros_like(x))), []
    if n == "affine":
        return (lambda x: a * x + b), []
    if n == "leakyrelu":
        return (lambda x: torch.where(x >= 0, x, a * x)), [0.0]
    if n == "thresholdedrelu":
        return (lambda x: torch.where(x > a, x, torch.zeros_like(x))), [a]
    if n == "scaledtanh":
        return (lambda x: a * torch.tanh(b * x)), []
    if n == "hardsigmoid":
        return (lambda x: torch.clamp(a * x + b, 0.0, 1.0)), [(0.0 - b) / a, (1.0 - b) / a]
    if n == "elu":
        return (lambda x: torch.where(x >= 0, x, a * torch.expm1(torch.clamp(x, max=0.0)))), [0.0]
    raise ValueError("unknown activation " + name)


def t_resolve_activations(names, alphas, betas):
    ai, bi = 0, 0
    out = []
    for name in names:
        takes_a, takes_b, da, db = mf.ACT_PARAMS[name.lower()]
        a = b = None
        if takes_a:
            a = float(alphas[ai]) if ai < len(alphas) else da
            ai += ai < len(alphas)
        if takes_b:
            b = float(betas[bi]) if bi < len(betas) else db
            bi += bi < len(betas)
        out.append(t_activation(name, a, b))
    return out


# --------------------------------------------------------------------------------------
# One direction of a recurrent node, unrolled (torch float64)
# --------------------------------------------------------------------------------------


def note_kink(stats, v, points):
    if stats is None or not points:
        return
    v = v.detach()
    for p in points:
        stats["kink"] = min(stats["kink"], float(torch.min(torch.abs(v - p))))


def run_direction(cfg, lv, X, h0, c0, pert=None, stats=None, retain=True):
    """cfg: op, H, lens, reverse, acts, clip, input_forget, lbr. lv: W, R, B (, P) leaves.

    pert: {("h", t) | ("c", t) | ("cc", t): [B,H] tensor} added to the step's new h_t (after
    it is computed: carried to step t+1 and output), to the new c_t *before* h_t = o*h(c_t)
    and the Po peephole use it, or to the carried c_t only (after both: reaches later steps).

    Returns hs/cs (the step's new states, one [B,H] tensor per t), Y [T,B,H], final h/c,
    forget gates (numpy [T,B,H], zeros at padded positions)."""
    op, H = cfg["op"], cfg["H"]
    T, Bn = X.shape[0], X.shape[1]
    g = NGATE[op]
    lens = cfg["lens"]
    valid = torch.arange(T)[:, None] < lens[None, :]
    clip = cfg["clip"]
    Wt, Rt = lv["W"].t(), lv["R"]
    Wb, Rb = lv["B"][: g * H], lv["B"][g * H:]
    P = lv.get("P")
    acts = cfg["acts"]
    (f_act, f_k), (g_act, g_k), (h_act, h_k) = (acts + [(None, None), (None, None)])[:3]

    def clamp(v):
        if clip is None:
            return v
        if stats is not None:
            vd = v.detach()
            stats["kink"] = min(stats["kink"], float(torch.min(torch.abs(torch.abs(vd) - clip))))
            stats["clipped"] += int((torch.abs(vd) > clip).sum())
            stats["pre"] += vd.numel()
        return torch.clamp(v, -clip, clip)

    def act(fn, kinks, v):
        note_kink(stats, v, kinks)
        return fn(v)

    h, c = h0, c0
    hs, cs, Ys = [None] * T, [None] * T, [None] * T
    forget = np.zeros((T, Bn, H))
    zero = torch.zeros(Bn, H, dtype=torch.float64)
    order = range(T - 1, -1, -1) if cfg["reverse"] else range(T)
    for t in order:
        m = valid[t][:, None]
        x = X[t]
        c_carry = None
        if op == "LSTM":
            a = x @ Wt + h @ Rt.t() + Wb + Rb
            ai, ao, af, ac = a[:, :H], a[:, H: 2 * H], a[:, 2 * H: 3 * H], a[:, 3 * H:]
            if P is not None:
                ai = ai + P[:H] * c
            i = act(f_act, f_k, clamp(ai))
            if cfg["input_forget"]:
                f = 1.0 - i
            else:
                if P is not None:
                    af = af + P[2 * H:] * c
                f = act(f_act, f_k, clamp(af))
            ct = act(g_act, g_k, clamp(ac))
            c_new = f * c + i * ct
            if pert and ("c", t) in pert:
                c_new = c_new + pert[("c", t)]
            if P is not None:
                ao = ao + P[H: 2 * H] * c_new
            o = act(f_act, f_k, clamp(ao))
            h_new = o * act(h_act, h_k, c_new)
            forget[t] = torch.where(m, f, zero).detach().numpy()
            if pert and ("cc", t) in pert:
                # carried-state perturbation: reaches only later steps (not h_t, not Po of step t)
                c_carry = c_new + pert[("cc", t)]
        elif op == "GRU":
            xw = x @ Wt
            R = Rt
            z = act(f_act, f_k, clamp(xw[:, :H] + h @ R[:H].t() + Wb[:H] + Rb[:H]))
            r = act(f_act, f_k, clamp(xw[:, H: 2 * H] + h @ R[H: 2 * H].t() + Wb[H: 2 * H] + Rb[H: 2 * H]))
            if cfg["lbr"]:
                pre = xw[:, 2 * H:] + r * (h @ R[2 * H:].t() + Rb[2 * H:]) + Wb[2 * H:]
            else:
                pre = xw[:, 2 * H:] + (r * h) @ R[2 * H:].t() + Rb[2 * H:] + Wb[2 * H:]
            ht = act(g_act, g_k, clamp(pre))
            h_new = (1.0 - z) * ht + z * h
            c_new = None
        else:
            h_new = act(f_act, f_k, clamp(x @ Wt + h @ Rt.t() + Wb + Rb))
            c_new = None
        if pert and ("h", t) in pert:
            h_new = h_new + pert[("h", t)]
        if retain and h_new.requires_grad:
            h_new.retain_grad()
            if c_new is not None:
                c_new.retain_grad()
        hs[t], cs[t] = h_new, c_new
        h = torch.where(m, h_new, h)
        if c_new is not None:
            c = torch.where(m, c_new if c_carry is None else c_carry, c)
        Ys[t] = torch.where(m, h_new, zero)
    return {"hs": hs, "cs": cs, "Y": torch.stack(Ys), "h": h, "c": c, "forget": forget,
            "valid": valid.numpy()}


# --------------------------------------------------------------------------------------
# A small torch float64 ONNX interpreter
# --------------------------------------------------------------------------------------


def to_t(a):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return torch.tensor(a.astype(np.float64))
    if a.dtype.kind == "b":
        return torch.tensor(a)
    return torch.tensor(a.astype(np.int64))


def ints(v):
    return [int(s) for s in (v.reshape(-1).tolist() if isinstance(v, torch.Tensor) else np.atleast_1d(v))]


class Graph:
    def __init__(self, model):
        self.model = model
        self.opset = mf.opset_of(model)
        self.inits = {i.name: to_t(numpy_helper.to_array(i)) for i in model.graph.initializer}
        self.nodes = [(n, mf.attr_dict(n)) for n in model.graph.node]
        self.subs = {}
        self.consts = {}  # id(Constant node) -> its outputs

    def subgraph(self, gproto):
        """A body / branch (GraphProto attribute), prepared once."""
        key = id(gproto)
        if key not in self.subs:
            self.subs[key] = SubGraph(gproto)
        return self.subs[key]


class SubGraph:
    def __init__(self, g):
        self.g = g  # keeps the id() key alive
        self.nodes = [(n, mf.attr_dict(n)) for n in g.node]
        self.inits = {i.name: to_t(numpy_helper.to_array(i)) for i in g.initializer}
        self.inputs = [i.name for i in g.input]
        self.outputs = [o.name for o in g.output]


def all_nodes(g):
    """Every node of a GraphProto, subgraphs included (depth first, in order)."""
    for n in g.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(a.g)
            for sg in a.graphs:
                yield from all_nodes(sg)


def eval_op(op, at, ins, opset, nout, stats=None):
    x = ins[0] if ins else None
    if op == "Constant":
        for k in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            if k in at:
                v = np.asarray(at[k])
                if k.startswith("value_float"):
                    v = v.astype(np.float64)
                return [to_t(v)]
        raise NotImplementedError("Constant " + str(at))
    if op in ("Identity", "Dropout"):
        return [x]
    if op == "Shape":
        assert "start" not in at and "end" not in at
        return [torch.tensor(list(x.shape), dtype=torch.int64)]
    if op == "Gather":
        axis = at.get("axis", 0) % x.dim()
        idx = ins[1].long() % x.shape[axis]
        out = torch.index_select(x, axis, idx.reshape(-1))
        return [out.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))]
    if op in ("Squeeze", "Unsqueeze"):
        axes = at.get("axes") if opset < 13 else (ins[1] if len(ins) > 1 and ins[1] is not None else None)
        if op == "Squeeze":
            if axes is None:
                return [x.reshape([s for s in x.shape if s != 1])]
            ax = sorted({a % x.dim() for a in ints(axes)}, reverse=True)
            for a in ax:
                assert x.shape[a] == 1
                x = x.squeeze(a)
            return [x]
        r = x.dim() + len(ints(axes))
        for a in sorted(a % r for a in ints(axes)):
            x = x.unsqueeze(a)
        return [x]
    if op == "Concat":
        return [torch.cat(ins, dim=at["axis"])]
    if op == "Expand":
        shape = torch.broadcast_shapes(tuple(x.shape), tuple(ints(ins[1])))
        return [x.expand(shape)]
    if op == "Transpose":
        perm = at.get("perm") or list(range(x.dim() - 1, -1, -1))
        return [x.permute(*perm)]
    if op == "Reshape":
        shape = ints(ins[1])
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Flatten":
        axis = at.get("axis", 1) % (x.dim() + 1) if x.dim() else 0
        lead = int(np.prod(x.shape[:axis])) if axis else 1
        return [x.reshape(lead, -1)]
    if op == "MatMul":
        return [torch.matmul(ins[0], ins[1])]
    if op == "Gemm":
        a = ins[0].t() if at.get("transA", 0) else ins[0]
        b = ins[1].t() if at.get("transB", 0) else ins[1]
        y = at.get("alpha", 1.0) * (a @ b)
        if len(ins) > 2 and ins[2] is not None:
            y = y + at.get("beta", 1.0) * ins[2]
        return [y]
    if op == "Add":
        return [ins[0] + ins[1]]
    if op == "Sub":
        return [ins[0] - ins[1]]
    if op == "Mul":
        return [ins[0] * ins[1]]
    if op == "Div":
        if not ins[0].is_floating_point() and not ins[1].is_floating_point():
            return [torch.div(ins[0], ins[1], rounding_mode="trunc")]
        return [ins[0] / ins[1]]
    if op == "Neg":
        return [-x]
    if op == "Relu":
        if stats is not None and "opkink" in stats:
            stats["opkink"] = min(stats["opkink"], float(torch.min(torch.abs(x))))
        return [torch.relu(x)]
    if op == "Tanh":
        return [torch.tanh(x)]
    if op == "Sigmoid":
        return [torch.sigmoid(x)]
    if op == "Exp":
        return [torch.exp(x)]
    if op == "Log":
        return [torch.log(x)]
    if op == "Sqrt":
        return [torch.sqrt(x)]
    if op == "Pow":
        return [torch.pow(x, ins[1])]
    if op == "Erf":
        return [torch.erf(x)]
    if op == "Sin":
        return [torch.sin(x)]
    if op == "Cast":
        to = at["to"]
        if to in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
            return [x.double()]
        if to in (TensorProto.INT32, TensorProto.INT64):
            return [x.long()]
        if to == TensorProto.BOOL:
            return [x.bool()]
        raise NotImplementedError("Cast to %d" % to)
    if op == "ConstantOfShape":
        v = to_t(at.get("value", np.zeros(1, np.float32))).reshape(-1)[0]
        return [torch.full(tuple(ints(x)), v.item(), dtype=v.dtype)]
    if op == "Slice":
        starts, ends = ints(ins[1]), ints(ins[2])
        axes = ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        for s, e, a, st in zip(starts, ends, axes, steps):
            a %= x.dim()
            idx = list(range(x.shape[a]))[slice(s, e, st)]
            x = torch.index_select(x, a, torch.tensor(idx, dtype=torch.int64))
        return [x]
    if op == "Split":
        axis = at.get("axis", 0)
        split = at.get("split") if opset < 13 else (ins[1] if len(ins) > 1 and ins[1] is not None else None)
        if split is None:
            n = x.shape[axis] // nout
            split = [n] * nout
        return list(torch.split(x, ints(split), dim=axis))
    if op in ("LogSoftmax", "Softmax"):
        fn = torch.log_softmax if op == "LogSoftmax" else torch.softmax
        if opset >= 13:
            return [fn(x, at.get("axis", -1))]
        axis = at.get("axis", 1) % x.dim()
        shp = x.shape
        return [fn(x.reshape(int(np.prod(shp[:axis])), -1), 1).reshape(shp)]
    if op == "LayerNormalization":
        axis = at.get("axis", -1) % x.dim()
        eps = at.get("epsilon", 1e-5)
        dims = tuple(range(axis, x.dim()))
        mean = x.mean(dim=dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
        inv = 1.0 / torch.sqrt(var + eps)
        y = (x - mean) * inv * ins[1]
        if len(ins) > 2 and ins[2] is not None:
            y = y + ins[2]
        return [y, mean, inv][:nout]
    if op in ("ReduceMean", "ReduceSum"):
        axes = at.get("axes")
        if op == "ReduceSum" and opset >= 13:
            axes = ins[1] if len(ins) > 1 and ins[1] is not None else None
        keep = bool(at.get("keepdims", 1))
        dims = tuple(range(x.dim())) if axes is None else tuple(a % x.dim() for a in ints(axes))
        fn = torch.mean if op == "ReduceMean" else torch.sum
        return [fn(x, dim=dims, keepdim=keep)]
    if op == "Equal":
        return [ins[0] == ins[1]]
    if op in ("Less", "Greater"):
        return [ins[0] < ins[1] if op == "Less" else ins[0] > ins[1]]
    if op == "Not":
        return [torch.logical_not(x)]
    if op == "Abs":
        return [torch.abs(x)]
    if op == "Pad":
        mode = at.get("mode", "constant")
        pads = ints(ins[1]) if opset >= 11 else list(at["pads"])
        value = 0.0
        if opset >= 11 and len(ins) > 2 and ins[2] is not None:
            value = float(scalar_of(ins[2]))
        elif opset < 11:
            value = float(at.get("value", 0.0))
        r = x.dim()
        assert len(pads) == 2 * r, (op, pads)
        tp = []  # torch order: last axis first, (begin, end)
        for a in range(r - 1, -1, -1):
            tp += [pads[a], pads[a + r]]
        assert mode == "constant", (op, mode)
        return [torch.nn.functional.pad(x, tp, "constant", value)]
    if op in ("Conv", "MaxPool", "AveragePool"):
        assert at.get("auto_pad", "NOTSET") in ("NOTSET", b"NOTSET"), (op, at.get("auto_pad"))
        nd = x.dim() - 2
        assert 1 <= nd <= 2, (op, x.shape)
        k = list(at["kernel_shape"]) if "kernel_shape" in at else list(ins[1].shape[2:])
        strides = list(at.get("strides") or [1] * nd)
        dil = list(at.get("dilations") or [1] * nd)
        pads = list(at.get("pads") or [0] * (2 * nd))
        tp = []
        for a in range(nd - 1, -1, -1):
            tp += [pads[a], pads[a + nd]]
        F_ = torch.nn.functional
        if op == "Conv":
            xp = F_.pad(x, tp) if any(pads) else x
            fn = F_.conv1d if nd == 1 else F_.conv2d
            b = ins[2] if len(ins) > 2 else None
            return [fn(xp, ins[1], b, stride=strides, dilation=dil, groups=int(at.get("group", 1)))]
        ceil = bool(at.get("ceil_mode", 0))
        if op == "MaxPool":
            assert nout == 1 and int(at.get("storage_order", 0)) == 0, op
            xp = F_.pad(x, tp, "constant", float("-inf")) if any(pads) else x
            fn = F_.max_pool1d if nd == 1 else F_.max_pool2d
            y = fn(xp, k, strides, 0, dil, ceil_mode=ceil)
            if stats is not None and "opkink" in stats:
                # argmax ties are kinks: the two largest of every window must stay apart
                assert nd == 1 and not ceil, (op, "kink check for 1-D windows only")
                w = xp.unfold(-1, (k[0] - 1) * dil[0] + 1, strides[0])[..., :: dil[0]]
                top = torch.topk(w, 2, dim=-1).values
                stats["opkink"] = min(stats["opkink"], float(torch.min(top[..., 0] - top[..., 1])))
            return [y]
        assert not ceil and dil == [1] * nd, (op, "ceil_mode / dilations")
        fn = F_.avg_pool1d if nd == 1 else F_.avg_pool2d
        kn = float(np.prod(k))
        ssum = fn(F_.pad(x, tp) if any(pads) else x, k, strides) * kn
        if int(at.get("count_include_pad", 0)) or not any(pads):
            return [ssum / kn]
        ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
        cnt = fn(F_.pad(ones, tp), k, strides) * kn
        return [ssum / cnt]
    raise NotImplementedError(op)


def recurrent_node(node, at, ins, overrides, perturb, stats, xgrad=False, prev=None, path=None):
    """One execution of a recurrent node. prev: the node's trace from its earlier executions in
    this evaluation (a node inside a Loop / Scan body runs once per iteration): this execution is
    appended to it along time (iteration i's step s is t = t0 + s, t0 = the steps run before), with
    the same weight leaves (so their gradients are the sums over iterations); perturbation keys use
    the concatenated t. Returns (this execution's outputs, the node's trace)."""
    op, name = node.op_type, node.name
    H = int(at["hidden_size"])
    layout = int(at.get("layout", 0))
    direction = at.get("direction", "forward")
    D = 2 if direction == "bidirectional" else 1
    g = NGATE[op]

    def inp(i):
        return ins[i] if i < len(ins) else None

    X, W, R, Bias, sl, ih = ins[0], ins[1], ins[2], inp(3), inp(4), inp(5)
    ic = inp(6) if op == "LSTM" else None
    P = inp(7) if op == "LSTM" else None
    if layout == 1:
        X = X.transpose(0, 1)
        ih = ih.transpose(0, 1) if ih is not None else None
        ic = ic.transpose(0, 1) if ic is not None else None
    T, Bn = X.shape[0], X.shape[1]
    lens = torch.full((Bn,), T, dtype=torch.int64) if sl is None else sl.long()
    t0 = 0
    if prev is not None:
        # repeated executions (loop bodies): full-length sequences, one direction running forward
        t0 = prev["T"]
        assert prev["path"] == path and direction == "forward", (name, path, direction)
        assert int(lens.min()) == T and int(prev["lens"].min()) == prev["T"], (name, "sequence_lens in a loop body")
    names = list(at.get("activations") or DEFAULT_ACTS[op] * D)
    if D == 2 and len(names) == NACT[op]:
        names = names * 2
    acts = t_resolve_activations(names, at.get("activation_alpha", []), at.get("activation_beta", []))
    grad_on = torch.is_grad_enabled()
    dirs = []
    runs = []  # this execution's run_direction results, per direction
    for d in range(D):
        dname = ("forward", "reverse")[d] if D == 2 else direction
        srcs = {"W": W[d], "R": R[d], "B": Bias[d] if Bias is not None else torch.zeros(2 * g * H, dtype=torch.float64)}
        if P is not None:
            srcs["P"] = P[d]
        if prev is not None:
            pd = prev["dirs"][d]
            for k, v in srcs.items():  # one node, one set of weights: the same values every iteration
                assert torch.equal(v.detach(), pd["srcs"][k]), (name, k, "weights differ between iterations")
            leaves = pd["leaves"]
        else:
            leaves = {}
            for k, v in srcs.items():
                key = (name, d, k)
                if overrides and key in overrides:
                    leaves[k] = overrides[key]
                else:
                    leaves[k] = v.detach().clone().requires_grad_(grad_on)
        h0 = ih[d] if ih is not None else torch.zeros(Bn, H, dtype=torch.float64)
        c0 = ic[d] if ic is not None else torch.zeros(Bn, H, dtype=torch.float64)
        cfg = {"op": op, "H": H, "lens": lens, "reverse": dname == "reverse",
               "acts": acts[d * NACT[op]: (d + 1) * NACT[op]], "clip": at.get("clip"),
               "input_forget": int(at.get("input_forget", 0)), "lbr": int(at.get("linear_before_reset", 0))}
        pert = None
        if perturb:
            pert = {}
            for k, v in perturb.items():
                if k[:2] != (name, d):
                    continue
                if k[2:] == ("X",):
                    pert[("X",)] = v[t0: t0 + T]
                elif t0 <= k[3] < t0 + T:
                    pert[(k[2], k[3] - t0)] = v
        # this direction's own copy of the (time-major) input sequence: its .grad is the gradient
        # this direction sends into X; ("X",) perturbs the copy (finite differences)
        Xd = X
        if xgrad and grad_on:
            if X.requires_grad:
                Xd = X.clone()
                Xd.retain_grad()
            else:
                Xd = X.detach().clone().requires_grad_(True)
        if pert and ("X",) in pert:
            Xd = Xd + pert[("X",)]
        out = run_direction(cfg, leaves, Xd, h0, c0, pert, stats)
        runs.append(out)
        if prev is None:
            out.update({"direction": dname, "leaves": leaves, "cfg": cfg, "X": X, "Xds": [Xd], "h0": h0, "c0": c0,
                        "srcs": {k: v.detach().clone() for k, v in srcs.items()}})
            dirs.append(out)
            continue
        # identity plumbing: this iteration starts from the state the previous one ended with
        assert torch.equal(h0.detach(), pd["h"].detach()), (name, "initial_h is not the previous final h")
        if op == "LSTM":
            assert torch.equal(c0.detach(), pd["c"].detach()), (name, "initial_c is not the previous final c")
        pd["hs"] = pd["hs"] + out["hs"]
        pd["cs"] = pd["cs"] + out["cs"]
        pd["Y"] = torch.cat([pd["Y"].detach(), out["Y"].detach()])
        pd["h"], pd["c"] = out["h"], out["c"]
        pd["forget"] = np.concatenate([pd["forget"], out["forget"]])
        pd["valid"] = np.concatenate([pd["valid"], out["valid"]])
        pd["X"] = torch.cat([pd["X"].detach(), X.detach()])
        pd["Xds"].append(Xd)
    if prev is not None:
        dirs = prev["dirs"]
    Y = torch.stack([o["Y"] for o in runs], 1)
    Yh = torch.stack([o["h"] for o in runs], 0)
    Yc = torch.stack([o["c"] for o in runs], 0)
    if layout == 1:
        outs = [Y.permute(2, 0, 1, 3), Yh.transpose(0, 1), Yc.transpose(0, 1)]
    else:
        outs = [Y, Yh, Yc]
    outs = outs[: 3 if op == "LSTM" else 2]
    run = {"t0": t0, "T": T, "ins_np": [None if v is None else v.detach().numpy() for v in ins], "outs": outs}
    if prev is not None:
        prev["T"] += T
        prev["lens"] = torch.full((Bn,), prev["T"], dtype=torch.int64)
        for dr in dirs:
            dr["cfg"]["lens"] = prev["lens"]
        prev["iters"].append(run)
        return outs, prev
    info = {"node": node, "at": at, "op": op, "H": H, "T": T, "B": Bn, "lens": lens, "dirs": dirs,
            "ins_np": run["ins_np"], "outs": outs, "iters": [run], "path": list(path or [name])}
    return outs, info


class Ctx:
    """One evaluation of a model: the switches of evaluate() and the recurrent traces.

    State recurrences (see "Streaming calls and state recurrences"): track names values whose
    every production is recorded (recorded[name][occurrence], retain_grad when they require
    grad); src_pert {(name, occurrence): delta} adds delta to such a value where it is produced
    (every consumer sees it), src_set {(name, occurrence): value} replaces it; carry_pert {(carrier, k, t): delta} adds delta to carried value k
    of a Loop / Scan (carrier = its node name) or state pair k of a streaming model (carrier "")
    as it leaves step t (the next step and the final value see it, nothing of step t does).
    carry_pre / carry_post {(carrier, k): [value per step]} hold the carried values before and
    after that addition; loops {node name: structure} the Loop / Scan nodes that ran."""

    def __init__(self, graph, overrides, perturb, stats, taps, out_pert, xgrad, track=(), src_pert=None,
                 carry_pert=None, src_set=None):
        self.graph, self.overrides, self.perturb, self.stats = graph, overrides, perturb, stats
        self.taps, self.out_pert, self.xgrad = taps, out_pert, xgrad
        self.rec = {}
        self.src_pert = src_pert or {}
        self.src_set = src_set or {}
        self.track = set(track) | {k[0] for k in self.src_pert} | {k[0] for k in self.src_set}
        self.recorded = {}
        self.carry_pert = carry_pert or {}
        self.carry_pre, self.carry_post = {}, {}
        self.loops = {}

    def carry(self, carrier, k, t, v):
        """Carried value k leaving step t: recorded, perturbed by carry_pert."""
        self.carry_pre.setdefault((carrier, k), []).append(v)
        d = self.carry_pert.get((carrier, k, t))
        if d is not None:
            v = v + d
        self.carry_post.setdefault((carrier, k), []).append(v)
        return v


def run_nodes(ctx, nodes, env, path):
    """Evaluates nodes in order into env (a scope: the enclosing scopes' values are visible)."""
    for node, at in nodes:
        ins = [env[n] if n else None for n in node.input]
        here = path + [node.name]
        op = node.op_type
        if op in RECURRENT:
            prev = ctx.rec.get(node.name)
            outs, info = recurrent_node(node, at, ins, ctx.overrides, ctx.perturb, ctx.stats, ctx.xgrad, prev, here)
            ctx.rec[node.name] = info
        elif op in ("If", "Loop", "Scan"):
            outs = CONTROL[op](ctx, node, at, ins, env, here)
        elif op == "Constant":  # evaluated once per model (loop bodies repeat them); never mutated
            key = id(node)
            if key not in ctx.graph.consts:
                ctx.graph.consts[key] = eval_op(op, at, ins, ctx.graph.opset, 1)
            outs = ctx.graph.consts[key]
        else:
            outs = eval_op(op, at, ins, ctx.graph.opset, len(node.output), ctx.stats)
        for n, v in zip(node.output, outs):
            if n:
                if ctx.out_pert and n in ctx.out_pert:
                    v = v + ctx.out_pert[n]
                if n in ctx.taps and torch.is_grad_enabled():
                    v = v.detach().requires_grad_(True)
                if n in ctx.track:
                    seen = ctx.recorded.setdefault(n, [])
                    d = ctx.src_pert.get((n, len(seen)))
                    if d is not None:
                        v = v + d.reshape(v.shape)
                    r = ctx.src_set.get((n, len(seen)))
                    if r is not None:
                        v = r.reshape(v.shape)
                    if v.requires_grad:
                        v.retain_grad()
                    seen.append(v)
                env[n] = v


def run_body(ctx, gproto, env, args, path):
    """Runs a subgraph in a new scope over env: its inputs bound to args; returns its outputs."""
    sub = ctx.graph.subgraph(gproto)
    senv = dict(env)
    senv.update(sub.inits)
    assert len(args) == len(sub.inputs), (path, len(args), sub.inputs)
    senv.update(zip(sub.inputs, args))
    run_nodes(ctx, sub.nodes, senv, path)
    return [senv[o] for o in sub.outputs]


def scalar_of(v):
    return v.reshape(-1)[0].item()


def run_if(ctx, node, at, ins, env, path):
    branch = "then_branch" if bool(scalar_of(ins[0])) else "else_branch"
    return run_body(ctx, at[branch], env, [], path + [branch])


def run_loop(ctx, node, at, ins, env, path):
    """ONNX Loop: inputs M (trip count, optional), cond (optional), carried values; body inputs
    (iteration_num, cond, carried...), outputs (cond, carried..., scan outputs...); the node's
    outputs are the final carried values, then each scan output stacked on a new axis 0."""
    M = ins[0] if ins and ins[0] is not None else None
    cond = ins[1] if len(ins) > 1 and ins[1] is not None else None
    carried = list(ins[2:])
    trips = int(scalar_of(M)) if M is not None else None
    go = bool(scalar_of(cond)) if cond is not None else True
    nscan = len(node.output) - len(carried)
    scans = [[] for _ in range(nscan)]
    sub = ctx.graph.subgraph(at["body"])
    log = note_loop(ctx, node, path, at["body"], sub.inputs[2:], sub.outputs[1: 1 + len(carried)], carried)
    i = 0
    while go and (trips is None or i < trips):
        outs = run_body(ctx, at["body"], env,
                        [torch.tensor(i, dtype=torch.int64), torch.tensor(go)] + carried, path + ["body"])
        go = bool(scalar_of(outs[0]))
        carried = [ctx.carry(node.name, k, i, v) for k, v in enumerate(outs[1: 1 + len(carried)])]
        log["steps"] += 1
        for k, v in enumerate(carried):
            log["shapes"][k].add(tuple(v.shape))
        for k, v in enumerate(outs[1 + len(carried):]):
            scans[k].append(v)
        i += 1
    assert all(scans[k] for k in range(nscan)), (node.name, "a Loop that runs no iteration")
    return carried + [torch.stack(s) for s in scans]


def run_scan(ctx, node, at, ins, env, path):
    """ONNX Scan (opset >= 9): N state inputs then M scan inputs; the body gets the states and one
    slice of each scan input (the scan axis removed, read backwards when its direction is 1) and
    returns the new states and one element of each scan output, stacked along scan_output_axes
    (in reverse order when scan_output_directions is 1)."""
    M = int(at["num_scan_inputs"])
    N = len(ins) - M
    states, xs = list(ins[:N]), ins[N:]
    in_axes = [a % xs[k].dim() for k, a in enumerate(at.get("scan_input_axes") or [0] * M)]
    in_dirs = list(at.get("scan_input_directions") or [0] * M)
    L = xs[0].shape[in_axes[0]]
    assert all(x.shape[a] == L for x, a in zip(xs, in_axes)), node.name
    K = len(node.output) - N
    scans = [[] for _ in range(K)]
    sub = ctx.graph.subgraph(at["body"])
    log = note_loop(ctx, node, path, at["body"], sub.inputs[:N], sub.outputs[:N], states)
    for t in range(L):
        sl = [x.select(a, L - 1 - t if dr else t) for x, a, dr in zip(xs, in_axes, in_dirs)]
        outs = run_body(ctx, at["body"], env, states + sl, path + ["body"])
        states = [ctx.carry(node.name, k, t, v) for k, v in enumerate(outs[:N])]
        log["steps"] += 1
        for k, v in enumerate(states):
            log["shapes"][k].add(tuple(v.shape))
        for k, v in enumerate(outs[N:]):
            scans[k].append(v)
    out_axes = list(at.get("scan_output_axes") or [0] * K)
    out_dirs = list(at.get("scan_output_directions") or [0] * K)
    res = []
    for k in range(K):
        vals = scans[k][::-1] if out_dirs[k] else scans[k]
        res.append(torch.stack(vals, out_axes[k] % (vals[0].dim() + 1)))
    return states + res


def note_loop(ctx, node, path, body, in_names, out_names, init):
    """Records a Loop / Scan's carried values (body input and output names, dtype, shapes seen)."""
    assert node.name not in ctx.loops, (node.name, "a Loop / Scan run twice in one evaluation")
    log = {"node": node, "path": list(path), "body": body, "in": list(in_names), "out": list(out_names),
           "float": [v.is_floating_point() for v in init], "shapes": [{tuple(v.shape)} for v in init], "steps": 0}
    ctx.loops[node.name] = log
    return log


CONTROL = {"If": run_if, "Loop": run_loop, "Scan": run_scan}


def evaluate(graph, feeds, overrides=None, perturb=None, stats=None, taps=(), out_pert=None, xgrad=False,
             out_ctx=None, track=(), src_pert=None, carry_pert=None, src_set=None):
    """taps: node outputs made grad-requiring leaves (their .grad = dL/d output); out_pert:
    {node output: delta} added to that output; xgrad: per-direction X copies (recurrent_node);
    track, src_pert, carry_pert, src_set: see Ctx; out_ctx: a list the evaluation's Ctx is appended to.
    Returns the top-level values and {recurrent node name: trace} in order of first execution
    (only nodes that ran: those of the If branches taken; one trace per node over a loop's
    iterations)."""
    env = dict(graph.inits)
    env.update(feeds)
    ctx = Ctx(graph, overrides, perturb, stats, taps, out_pert, xgrad, track, src_pert, carry_pert, src_set)
    run_nodes(ctx, graph.nodes, env, [])
    if out_ctx is not None:
        out_ctx.append(ctx)
    return env, ctx.rec


def evaluate_stream(graph, feeds, stream, overrides=None, perturb=None, stats=None, taps=(), out_pert=None,
                    xgrad=False, out_ctx=None, track=(), src_pert=None, carry_pert=None, src_set=None):
    """A streaming model run for stream["calls"] consecutive calls in one Ctx (a recurrent node's
    calls are appended to one trace, as a loop's iterations): each call's state outputs are fed
    to the next call's state inputs (feeds[S_in] is the initial state), an input in
    stream["perCall"] gets its slice feeds[x][n], every other input the same value each call.
    Returns {graph output: the per-call values stacked on a new axis 0} and the traces; the Ctx
    keeps each call's values (ctx.calls) and the carried states (carrier "")."""
    ctx = Ctx(graph, overrides, perturb, stats, taps, out_pert, xgrad, track, src_pert, carry_pert, src_set)
    pairs = stream["state"]
    cur = {s_in: feeds[s_in] for s_in, _ in pairs}
    names = [o.name for o in graph.model.graph.output]
    outs = {o: [] for o in names}
    ctx.calls = []
    for n in range(stream["calls"]):
        env = dict(graph.inits)
        for k, v in feeds.items():
            env[k] = cur[k] if k in cur else v[n] if k in stream["perCall"] else v
        run_nodes(ctx, graph.nodes, env, [])
        ctx.calls.append(env)
        for o in names:
            outs[o].append(env[o])
        for k, (s_in, s_out) in enumerate(pairs):
            assert env[s_out].shape == feeds[s_in].shape and env[s_out].dtype == feeds[s_in].dtype, (s_in, s_out)
            cur[s_in] = ctx.carry("", k, n, env[s_out])
    if out_ctx is not None:
        out_ctx.append(ctx)
    return {o: torch.stack(v) for o, v in outs.items()}, ctx.rec


# --------------------------------------------------------------------------------------
# Objectives, Jacobians, metrics
# --------------------------------------------------------------------------------------


def objective_of(obj, env, target, stream=None):
    """The objective; for a streaming model (env holds the per-call outputs stacked on axis 0) the
    sum over calls of the per-call objective (target: the per-call targets stacked), or for
    'last' the last call's output alone (its last step along timeAxis, an axis of the per-call
    output, when given)."""
    if stream is None:
        return objective(obj, env, target)
    y = env[obj["output"]]
    N = y.shape[0]
    assert N == stream["calls"], (N, stream)
    if obj["kind"] == "last":
        y = y[N - 1]
        ax = obj.get("timeAxis")
        if ax is not None:
            y = y.select(ax, y.shape[ax] - 1)
        return y.sum()
    L = None
    for n in range(N):
        term = objective(obj, {obj["output"]: y[n]}, None if target is None else target[n])
        L = term if L is None else L + term
    return L


def objective(obj, env, target):
    y = env[obj["output"]]
    k = obj["kind"]
    if k == "sum":
        return y.sum()
    if k == "mean":
        return y.mean()
    if k == "l2":
        return 0.5 * (y * y).sum()
    if k == "last":
        ax = obj["timeAxis"]
        return y.select(ax, y.shape[ax] - 1).sum()
    if k == "target":
        return ((y - target) ** 2).mean()
    raise ValueError(k)


# --------------------------------------------------------------------------------------
# State recurrences: Loop / Scan carried values and streaming state pairs not covered by a
# recurrent op (see "Streaming calls and state recurrences" in the module docstring)
# --------------------------------------------------------------------------------------

# ops that only move elements: a state output is traced back through them to the values it is
# assembled from (where a perturbation of the state is added for gradHidden)
LAYOUT_OPS = ("Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Concat")


def subgraphs(n):
    for a in n.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            yield a.g
        for sg in a.graphs:
            yield sg


def state_sources(nodes, name):
    """The values of one scope (nodes: [(node, attrs)]) that the value `name` is assembled from:
    `name` traced back through LAYOUT_OPS (Concat: every input; the others: the data input)."""
    prod = {o: n for n, _ in nodes for o in n.output if o}
    out = []

    def walk(v):
        n = prod.get(v)
        assert n is not None, (name, v, "a state that passes a value through unchanged")
        if n.op_type in LAYOUT_OPS:
            for i in (n.input if n.op_type == "Concat" else n.input[:1]):
                walk(i)
        else:
            out.append(v)

    walk(name)
    assert len(set(out)) == len(out), (name, out)
    return out


def flows_into_initial_state(g, start):
    """Does the value `start` of GraphProto g reach a recurrent node's initial_h / initial_c
    through any ops (subgraphs included: outer-scope values used inside, Loop / Scan inputs bound
    to body inputs, branch / body outputs bound to the node's outputs)?"""
    nodes = list(all_nodes(g))
    reach = {start}
    changed = True
    while changed:
        changed = False
        for n in nodes:
            subs = list(subgraphs(n))
            hit = any(i in reach for i in n.input if i)
            hit = hit or any(o.name in reach for sg in subs for o in sg.output)
            new = {o for o in n.output if o} if hit else set()
            if n.op_type in ("Loop", "Scan"):
                body = subs[0]
                new |= {bi.name for bi, i in zip(body.input, n.input) if i and i in reach}
            if not new <= reach:
                reach |= new
                changed = True
    for n in nodes:
        if n.op_type in RECURRENT:
            idx = (5, 6) if n.op_type == "LSTM" else (5,)
            if any(i < len(n.input) and n.input[i] in reach for i in idx):
                return True
    return False


def flat_state(v, axis):
    """A state tensor as [B, H]: its batch axis first, the other axes flattened in C order (no
    batch axis: B = 1, H = its element count)."""
    if axis is None:
        return v.reshape(1, -1)
    return v.movedim(axis, 0).reshape(v.shape[axis], -1)


def unflat_state(m, shape, axis):
    """The inverse of flat_state: a [B, H] matrix as a tensor of the state's shape."""
    if axis is None:
        return m.reshape(shape)
    moved = [shape[axis]] + [s for i, s in enumerate(shape) if i != axis]
    return m.reshape(moved).movedim(0, axis)


def find_state_layers(model, graph, ctx, stream, batch_axes):
    """The state layers of a model, from the base evaluation's Ctx: one per Loop / Scan with
    uncovered float carried values of a fixed shape (a carried value whose shape changes is an
    accumulator, not a state), one for the uncovered state pairs of a streaming model.
    batch_axes {state name: axis or None} is the case's declaration of each state's batch axis."""
    layers = []
    for lname, log in ctx.loops.items():
        sub = graph.subgraph(log["body"])
        vars_ = []
        for k, (bin_, bout) in enumerate(zip(log["in"], log["out"])):
            if not log["float"][k] or len(log["shapes"][k]) > 1:
                continue
            if flows_into_initial_state(log["body"], bin_):
                continue
            vars_.append({"k": k, "name": bin_, "out": bout, "shape": list(next(iter(log["shapes"][k]))),
                          "sources": state_sources(sub.nodes, bout)})
        if vars_:
            node = "+".join(v["name"] for v in vars_)
            layers.append({"carrier": lname, "node": node, "path": log["path"] + ["body", node], "T": log["steps"],
                           "vars": vars_})
    if stream is not None:
        assert not ctx.loops, "a Loop / Scan inside a streaming model"
        vars_ = []
        for k, (s_in, s_out) in enumerate(stream["state"]):
            if flows_into_initial_state(model.graph, s_in):
                continue
            vars_.append({"k": k, "name": s_in, "out": s_out, "shape": list(ctx.carry_pre[("", k)][0].shape),
                          "sources": state_sources(graph.nodes, s_out)})
        if vars_:
            node = "+".join(v["name"] for v in vars_)
            layers.append({"carrier": "", "node": node, "path": [node], "T": stream["calls"], "vars": vars_})
    for sl in layers:
        Bs = set()
        for v in sl["vars"]:
            v["batchAxis"] = batch_axes[v["name"]]
            m = flat_state(torch.zeros(v["shape"]), v["batchAxis"])
            v["H"] = m.shape[1]
            Bs.add(m.shape[0])
        assert len(Bs) == 1, (sl["node"], Bs)
        sl["B"] = Bs.pop()
        sl["H"] = sum(v["H"] for v in sl["vars"])
    return layers


def state_values(ctx, sl, kind="pre"):
    """[T, B, H] float64: the state after every step (carried values before carry_pert)."""
    store = ctx.carry_pre if kind == "pre" else ctx.carry_post
    return np.stack([torch.cat([flat_state(store[(sl["carrier"], v["k"])][t], v["batchAxis"]) for v in sl["vars"]],
                               1).detach().numpy() for t in range(sl["T"])])


def state_index_maps(ev, feeds, sl, shapes):
    """For every step and state value: where each element of its sources goes in the state tensor.
    maps[t][vi] = [(source name, LongTensor of flat state indices, one per source element)]. One
    evaluation per step in which that step's sources are replaced by distinct integers (src_set):
    the state after the step holds exactly those values (layout ops only move elements), asserted a
    bijection (every state element comes from exactly one source element). shapes: {source: shape}."""
    maps = []
    for t in range(sl["T"]):
        ids, base = {}, 0
        for v in sl["vars"]:
            for s in v["sources"]:
                n = int(np.prod(shapes[s]))
                ids[(s, t)] = torch.arange(base, base + n, dtype=torch.float64).reshape(shapes[s])
                base += n
        cl = []
        with torch.no_grad():
            ev(feeds, src_set=ids, out_ctx=cl)
        per = []
        for v in sl["vars"]:
            S = cl[0].carry_pre[(sl["carrier"], v["k"])][t].reshape(-1)
            n = S.numel()
            at = {}
            for e, val in enumerate(S.tolist()):
                assert val == int(val) and int(val) not in at, (sl["node"], v["name"], "not a layout of the sources")
                at[int(val)] = e
            entries, used = [], 0
            for s in v["sources"]:
                lo = int(ids[(s, t)].reshape(-1)[0])
                m = int(np.prod(shapes[s]))
                entries.append((s, torch.tensor([at[lo + p] for p in range(m)], dtype=torch.int64)))
                used += m
            assert used == n, (sl["node"], v["name"], used, n)
            per.append(entries)
        maps.append(per)
    return maps


def state_grads(ctx, sl, maps):
    """gradHidden [T, B, H]: the sources' .grad laid out as the state (after backward)."""
    out = []
    for t in range(sl["T"]):
        row = []
        for v, per in zip(sl["vars"], maps[t]):
            n = int(np.prod(v["shape"]))
            g = torch.zeros(n, dtype=torch.float64)
            for s, idx in per:
                src = ctx.recorded[s][t]
                assert src.requires_grad, (sl["node"], s, "a state that depends on no graph input")
                if src.grad is not None:
                    g[idx] = src.grad.reshape(-1)
            row.append(flat_state(g.reshape(v["shape"]), v["batchAxis"]))
        out.append(torch.cat(row, 1).numpy())
    return np.stack(out)


def state_source_delta(sl, maps, t, b, j, amount):
    """src_pert moving element (b, j) of the flattened state after step t by `amount`."""
    for v, per in zip(sl["vars"], maps[t]):
        if j >= v["H"]:
            j -= v["H"]
            continue
        n = int(np.prod(v["shape"]))
        e = int(flat_state(torch.arange(n).reshape(v["shape"]), v["batchAxis"])[b, j])
        for s, idx in per:
            hit = (idx == e).nonzero()
            if hit.numel():
                delta = torch.zeros(idx.numel(), dtype=torch.float64)
                delta[int(hit[0, 0])] = amount
                return {(s, t): delta}
    raise AssertionError((sl["node"], t, b, j))


def state_final(ctx, sl):
    """s_last as [B, H]: every state value after the last step (after carry_pert)."""
    return torch.cat([flat_state(ctx.carry_post[(sl["carrier"], v["k"])][-1], v["batchAxis"]) for v in sl["vars"]], 1)


def state_layer_jacobian(ev, feeds, sl):
    """J[t][(b, j), (b', j')] = d s_last[b, j] / d s_t[b', j'], s_t the carried state leaving step t
    (zero leaves added by carry_pert: nothing of step t moves), through the whole model."""
    T, Bn, H = sl["T"], sl["B"], sl["H"]
    leaves = {(sl["carrier"], v["k"], t): torch.zeros(v["shape"], dtype=torch.float64, requires_grad=True)
              for v in sl["vars"] for t in range(T)}
    cl = []
    ev(feeds, carry_pert=leaves, out_ctx=cl)
    final = state_final(cl[0], sl)
    order = [leaves[(sl["carrier"], v["k"], t)] for t in range(T) for v in sl["vars"]]
    J = np.zeros((T, Bn * H, Bn * H))
    nv = len(sl["vars"])
    for b in range(Bn):
        for j in range(H):
            gs = torch.autograd.grad(final[b, j], order, retain_graph=True, allow_unused=True)
            for t in range(T):
                row = [flat_state(torch.zeros(v["shape"], dtype=torch.float64) if g is None else g, v["batchAxis"])
                       for v, g in zip(sl["vars"], gs[t * nv: (t + 1) * nv])]
                J[t, b * H + j] = torch.cat(row, 1).reshape(-1).numpy()
    # no element of the batch moves another's state (so the full-state norm is the per-element one)
    blocks = J.reshape(T, Bn, H, Bn, H)
    for b in range(Bn):
        for b2 in range(Bn):
            if b != b2:
                assert not blocks[:, b, :, b2, :].any(), (sl["node"], "batch elements coupled")
    return J


def state_layer_jacobian_fd(ev, feeds, sl, steps):
    """Finite differences of state_layer_jacobian through the whole model: +-eps on unit j of the
    carried state leaving step t for the whole batch; output s_last. Column (t, j) is compared with
    the sum over b' of J[t][:, (b', j)]."""
    T, Bn, H = sl["T"], sl["B"], sl["H"]
    Jfd = np.zeros((T, Bn * H, H))
    with torch.no_grad():
        for t in steps:
            for j in range(H):
                vals = []
                for s_, _ in FD_STENCIL:
                    m = torch.zeros(Bn, H, dtype=torch.float64)
                    m[:, j] = s_ * FD_EPS
                    pert, off = {}, 0
                    for v in sl["vars"]:
                        pert[(sl["carrier"], v["k"], t)] = unflat_state(m[:, off: off + v["H"]], v["shape"], v["batchAxis"])
                        off += v["H"]
                    cl = []
                    ev(feeds, carry_pert=pert, out_ctx=cl)
                    vals.append(state_final(cl[0], sl).reshape(-1).numpy())
                Jfd[t, :, j] = fd_combine(vals)
    return Jfd


def isolated(dr):
    """Re-run one layer-direction on its own: X, weights, initial state as constants."""
    lv = {k: v.detach().clone().requires_grad_(True) for k, v in dr["leaves"].items()}
    h0 = dr["h0"].detach().clone().requires_grad_(True)
    c0 = dr["c0"].detach().clone().requires_grad_(True)
    return lv, dr["X"].detach(), h0, c0


def jacobians(dr):
    """Per-step Jacobians J[t][b, out, in] of the final state w.r.t. the step's state."""
    cfg = dr["cfg"]
    lv, X, h0, c0 = isolated(dr)
    out = run_direction(cfg, lv, X, h0, c0, retain=False)
    T, H = X.shape[0], cfg["H"]
    res = {}
    for kind, steps, final in (("hidden", out["hs"], out["h"]), ("cell", out["cs"], out["c"])):
        if steps[0] is None:
            continue
        J = np.zeros((T, final.shape[0], H, H))
        for j in range(H):
            seed = torch.zeros_like(final)
            seed[:, j] = 1.0
            gs = torch.autograd.grad(final, steps, seed, retain_graph=True, allow_unused=True)
            for t in range(T):
                if gs[t] is not None:
                    J[t, :, j, :] = gs[t].numpy()
        J *= dr["valid"][:, :, None, None]
        res[kind] = J
    return res


def state_jacobian(dr):
    """J[t][b, out, in] = d s_last[b] / d s_t[b], s = (h, c) for LSTM (h for GRU/RNN): the carried
    state. Zero leaves are added to every step's carried h_t ("h") and c_t ("cc"); the gradient
    with respect to such a leaf is the derivative with respect to the carried state."""
    cfg = dr["cfg"]
    lv, X, h0, c0 = isolated(dr)
    T, Bn, H = X.shape[0], X.shape[1], cfg["H"]
    lstm = cfg["op"] == "LSTM"
    kinds = ("h", "cc") if lstm else ("h",)
    pert = {(k, t): torch.zeros(Bn, H, dtype=torch.float64, requires_grad=True) for k in kinds for t in range(T)}
    out = run_direction(cfg, lv, X, h0, c0, pert=pert, retain=False)
    final = torch.cat([out["h"], out["c"]], 1) if lstm else out["h"]
    leaves = [pert[(k, t)] for k in kinds for t in range(T)]
    n = final.shape[1]
    J = np.zeros((T, Bn, n, n))
    for j in range(n):
        seed = torch.zeros_like(final)
        seed[:, j] = 1.0
        gs = torch.autograd.grad(final, leaves, seed, retain_graph=True, allow_unused=True)
        for ki in range(len(kinds)):
            for t in range(T):
                g = gs[ki * T + t]
                if g is not None:
                    J[t, :, j, ki * H: (ki + 1) * H] = g.numpy()
    return J * dr["valid"][:, :, None, None]


def fd_steps(dr):
    """The steps whose Jacobians are finite-differenced: all, or a sample for long sequences."""
    T = dr["X"].shape[0]
    if T <= FULL_JAC_FD_T:
        return list(range(T))
    rng = np.random.default_rng(T)
    pick = {0, T - 1, 1, T - 2} | set(int(v) for v in rng.choice(T, FULL_JAC_FD_T - 4, replace=False))
    return sorted(pick)


def state_jacobian_fd(dr, steps):
    """Finite differences of state_jacobian at the given steps: perturbation hooks on the carried
    h_t ("h") and c_t ("cc"), output (h_last, c_last)."""
    cfg = dr["cfg"]
    lv, X, h0, c0 = isolated(dr)
    T, Bn, H = X.shape[0], X.shape[1], cfg["H"]
    lstm = cfg["op"] == "LSTM"
    kinds = ("h", "cc") if lstm else ("h",)
    n = H * len(kinds)
    J = np.zeros((T, Bn, n, n))
    with torch.no_grad():
        for t in steps:
            for ki, k in enumerate(kinds):
                for j in range(H):
                    vals = []
                    for s, _ in FD_STENCIL:
                        delta = torch.zeros(Bn, H, dtype=torch.float64)
                        delta[:, j] = s * FD_EPS
                        o = run_direction(cfg, lv, X, h0, c0, pert={(k, t): delta}, retain=False)
                        vals.append((torch.cat([o["h"], o["c"]], 1) if lstm else o["h"]).numpy())
                    J[t, :, :, ki * H + j] = fd_combine(vals)
    return J * dr["valid"][:, :, None, None]


LOOP_FD_STEPS = 8   # steps of a loop-carried layer whose state Jacobian is differenced through the graph


def loop_fd_steps(info):
    """Steps next to the iteration boundaries (each iteration's first and last step, latest first),
    at most LOOP_FD_STEPS of them: the state Jacobian there crosses the most boundaries."""
    picks = []
    for it in reversed(info["iters"]):
        for t in (it["t0"] + it["T"] - 1, it["t0"]):
            if t not in picks:
                picks.append(t)
    picks = picks[:LOOP_FD_STEPS - 1] + ([0] if 0 not in picks[:LOOP_FD_STEPS - 1] else [])
    return sorted(picks)


def loop_state_jacobian_fd(graph, feeds, nname, di, steps, ev=None):
    """The state Jacobian of a loop-carried layer by finite differences through the whole graph
    (the Loop / Scan included): +-eps on one unit of the carried h_t or c_t of the concatenated
    step t, output the node's (h, c) after its last iteration. The layer's input sequence must not
    move when its state does (asserted): the Jacobian is the one of the recurrence with X fixed. ev: the model's
    evaluator (evaluate, or evaluate_stream for a streaming model's calls)."""
    if ev is None:
        def ev(feeds_, **kw):
            return evaluate(graph, feeds_, **kw)
    with torch.no_grad():
        _, rec = ev(feeds)
    base = rec[nname]["dirs"][di]
    cfg = base["cfg"]
    T, Bn, H = base["X"].shape[0], base["X"].shape[1], cfg["H"]
    lstm = cfg["op"] == "LSTM"
    kinds = ("h", "cc") if lstm else ("h",)
    n = H * len(kinds)
    J = np.zeros((T, Bn, n, n))
    with torch.no_grad():
        for t in steps:
            for ki, k in enumerate(kinds):
                for j in range(H):
                    vals = []
                    for s_, _ in FD_STENCIL:
                        delta = torch.zeros(Bn, H, dtype=torch.float64)
                        delta[:, j] = s_ * FD_EPS
                        _, r = ev(feeds, perturb={(nname, di, k, t): delta})
                        o = r[nname]["dirs"][di]
                        assert torch.equal(o["X"], base["X"]), (nname, "the layer's input depends on its state")
                        vals.append((torch.cat([o["h"], o["c"]], 1) if lstm else o["h"]).numpy())
                    J[t, :, :, ki * H + j] = fd_combine(vals)
    return J


def jacobians_fd(dr, steps=None):
    cfg = dr["cfg"]
    lv, X, h0, c0 = isolated(dr)
    T, Bn, H = X.shape[0], X.shape[1], cfg["H"]
    res = {}
    kinds = [("hidden", "h", "h")] + ([("cell", "c", "c")] if cfg["op"] == "LSTM" else [])
    with torch.no_grad():
        for kind, pk, fk in kinds:
            J = np.zeros((T, Bn, H, H))
            for t in (range(T) if steps is None else steps):
                for j in range(H):
                    vals = []
                    for s, _ in FD_STENCIL:
                        delta = torch.zeros(Bn, H, dtype=torch.float64)
                        delta[:, j] = s * FD_EPS
                        o = run_direction(cfg, lv, X, h0, c0, pert={(pk, t): delta}, retain=False)
                        vals.append(o[fk].numpy())
                    J[t, :, :, j] = fd_combine(vals)
            res[kind] = J * dr["valid"][:, :, None, None]
    return res


def jnorm(J):
    return np.sqrt((J ** 2).sum(axis=(1, 2, 3)))


def log_fit(ds, vals):
    keep = vals > 0
    n = int(keep.sum())
    if n < 2:
        return None, n
    d, y = ds[keep], np.log(vals[keep])
    den = ((d - d.mean()) ** 2).sum()
    if den <= 0:
        return None, n
    return float(((d - d.mean()) * (y - y.mean())).sum() / den), n


def decay(jn, lens, reverse, basis="hidden"):
    """SPEC v2 section 9.2 (see the module docstring)."""
    maxlen = int(max(lens))
    last = 0 if reverse else maxlen - 1
    W = maxlen
    ds = np.arange(W, dtype=np.float64)
    vals = np.array([jn[last - d if not reverse else last + d] for d in range(W)], np.float64)
    slope, n = log_fit(ds, vals)
    tail_from = (W + 1) // 2
    tail_slope, _ = log_fit(ds[tail_from:], vals[tail_from:])
    rho = None if slope is None else math.exp(slope)
    rho_tail = None if tail_slope is None else math.exp(tail_slope)
    j0 = vals[0]
    survival = float(vals[W - 1] / j0) if j0 > 0 and np.isfinite(j0) else None
    half = math.log(0.5) / math.log(rho) if rho is not None and 0 < rho < 1.0 else None
    ok = [d for d in range(W) if vals[d] >= 1e-3 * j0]
    reach = None if len(ok) == W else max(ok)
    if not np.all(np.isfinite(vals)):
        verdict = "invalid"
    elif W < 4 or not j0 > 0:
        verdict = "n/a"
    elif survival > 1e3 or (rho_tail is not None and rho_tail > 1.05):
        verdict = "exploding"
    elif survival < 1e-3 or (rho_tail is not None and rho_tail < 0.95):
        verdict = "vanishing"
    else:
        verdict = "stable"
    return {"basis": basis, "rho": rho, "slope": slope, "rhoTail": rho_tail, "survival": survival,
            "halfLife": half, "reach": reach, "verdict": verdict, "points": n, "window": W}


def fd_err(ad, fd, scale):
    ad, fd = np.asarray(ad, np.float64), np.asarray(fd, np.float64)
    den = np.maximum(np.maximum(np.abs(ad), np.abs(fd)), 1e-3 * scale + 1e-300)
    return float(np.max(np.abs(ad - fd) / den)) if ad.size else 0.0


# --------------------------------------------------------------------------------------
# Writing a case
# --------------------------------------------------------------------------------------

SUMMARY = []
CHECKS = []


def save(d, name, arr):
    np.save(os.path.join(d, name), np.ascontiguousarray(arr))
    return name


def sanitize(s):
    return mf.sanitize(s)


def check_forward_against_numpy(rec):
    """The torch unrolled kernel == make_fixtures.recurrent (NumPy) on every recurrent node, on each
    execution (each loop iteration) against its slice of the concatenated trace."""
    worst = 0.0
    for info in rec.values():
        node, at = info["node"], info["at"]
        op = node.op_type
        for it in info["iters"]:
            ins, t0, T = it["ins_np"], it["t0"], it["T"]

            def inp(i):
                return ins[i] if i < len(ins) else None

            outs_np, traces = mf.recurrent(op, at, ins[0], ins[1], ins[2], Bias=inp(3), seq_lens=inp(4),
                                           init_h=inp(5), init_c=inp(6) if op == "LSTM" else None,
                                           P=inp(7) if op == "LSTM" else None)
            for a, b in zip(outs_np, it["outs"]):
                worst = max(worst, float(np.max(np.abs(a - b.detach().numpy()))))
            for tr, dr in zip(traces, info["dirs"]):
                hid = dr["Y"][t0: t0 + T].detach().numpy()
                worst = max(worst, float(np.max(np.abs(tr["hidden"] - hid))))
                if op == "LSTM":
                    cel = np.stack([torch.where(torch.tensor(dr["valid"][t])[:, None], dr["cs"][t],
                                                torch.zeros(1, dtype=torch.float64)).detach().numpy()
                                    for t in range(t0, t0 + T)])
                    worst = max(worst, float(np.max(np.abs(tr["cell"] - cel))))
                    worst = max(worst, float(np.max(np.abs(tr["gates"]["forget"] - dr["forget"][t0: t0 + T]))))
    assert worst < 1e-12, worst
    return worst


def xd_grad(dr):
    """dL/dX_d over the concatenated time axis (one copy of X per execution of the node)."""
    return np.concatenate([np.zeros(tuple(x.shape)) if x.grad is None else x.grad.numpy() for x in dr["Xds"]])


def write_case(name, description, model, feeds_np, runs, torch_ref=None, fd_full=None, expect=None, clip_range=None,
               extra=None, on_forward=None, fd_eps=None, op_kink_min=KINK_MIN, stream=None, state_batch=None,
               state_gates=None):
    """fd_eps: this case's finite-difference step (default FD_EPS); op_kink_min: how far every Relu
    input and MaxPool runner-up outside the recurrent nodes must stay from its kink. stream:
    {"calls": N, "state": [[S_in, S_out], ...]} for a streaming model (feeds_np without a state
    input: zeros); state_batch {state name: batch axis or None} for every state value of a state
    layer; state_gates {state layer node: {gate: value name}} for a cell written with plain ops."""
    global FD_EPS
    saved = FD_EPS
    FD_EPS = fd_eps or FD_EPS
    try:
        write_case_(name, description, model, feeds_np, runs, torch_ref, fd_full, expect, clip_range, extra, on_forward,
                    op_kink_min, stream, state_batch or {}, state_gates or {})
    finally:
        FD_EPS = saved


def stream_config(model, feeds, stream):
    """Completes a streaming case's feeds (zeros for state inputs not given: their shape must be
    static) and finds the per-call inputs (one more axis than the graph input, of length N)."""
    N, pairs = stream["calls"], [tuple(p) for p in stream["state"]]
    init_names = {i.name for i in model.graph.initializer}
    gin = {gi.name: gi.type.tensor_type for gi in model.graph.input if gi.name not in init_names}
    state_ins = [a for a, _ in pairs]
    for s_in in state_ins:
        if s_in not in feeds:
            dims = gin[s_in].shape.dim
            assert all(dd.dim_value > 0 and not dd.dim_param for dd in dims), (s_in, "zeros need a static shape")
            feeds[s_in] = torch.zeros([dd.dim_value for dd in dims], dtype=torch.float64)
    per_call = set()
    for k, v in feeds.items():
        assert gin[k].HasField("shape"), (k, "rank unknown")
        r = len(gin[k].shape.dim)
        if k not in state_ins and v.dim() == r + 1:
            assert v.shape[0] == N, (k, v.shape, N)
            per_call.add(k)
        else:
            assert v.dim() == r, (k, v.shape, r)
    return {"calls": N, "state": pairs, "perCall": per_call}


def write_case_(name, description, model, feeds_np, runs, torch_ref, fd_full, expect, clip_range, extra, on_forward,
                op_kink_min, stream, state_batch, state_gates):
    """runs: list of objective dicts {kind, output, timeAxis?, target? (np array)}. extra: fields
    added to case.json; on_forward(env, rec): called on the base forward (float64, no grad), may
    assert and return more case.json fields."""
    t0 = time.time()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    onnx.checker.check_model(model)
    # recurrent nodes are reported by name and path: those names, and the names of the nodes that
    # hold subgraphs, must be present and unique in the whole model (subgraphs included)
    rnames = [n.name for n in all_nodes(model.graph) if n.op_type in RECURRENT + ("If", "Loop", "Scan")]
    assert all(rnames) and len(set(rnames)) == len(rnames), rnames
    onnx.save(model, os.path.join(d, "model.onnx"))
    graph = Graph(model)
    feeds = {k: to_t(v) for k, v in feeds_np.items()}
    init_names = {i.name for i in model.graph.initializer}
    scfg = None
    if stream is not None:
        scfg = stream_config(model, feeds, stream)

        def ev(feeds_, **kw):
            return evaluate_stream(graph, feeds_, scfg, **kw)
    else:
        def ev(feeds_, **kw):
            return evaluate(graph, feeds_, **kw)

    def obj_of(obj, env_, tgt):
        return objective_of(obj, env_, tgt, scfg)

    inputs = {}
    for gi in model.graph.input:
        if gi.name in init_names:
            continue
        if gi.name not in feeds_np:  # a streaming model's state input left at zeros
            assert scfg is not None and gi.name in [a for a, _ in scfg["state"]], (name, gi.name)
            continue
        inputs[gi.name] = save(d, "input_" + sanitize(gi.name) + ".npy", feeds_np[gi.name])

    # base forward, NumPy cross-check, kink distances
    stats = {"kink": float("inf"), "clipped": 0, "pre": 0, "opkink": float("inf")}
    base = []
    with torch.no_grad():
        env, rec = ev(feeds, stats=stats, out_ctx=base)
    fwd_err = check_forward_against_numpy(rec)
    state_layers = find_state_layers(model, graph, base[0], scfg, state_batch)
    assert sorted(state_gates) == sorted(sl["node"] for sl in state_layers if sl["node"] in state_gates), state_gates
    track = sorted({s for sl in state_layers for v in sl["vars"] for s in v["sources"]})
    state_ref = []  # per state layer: hidden [T, B, H], gates {gate: [T, B, Hc]}
    smaps = []  # per state layer: state_index_maps
    if state_layers:
        gate_names = sorted({g for gs in state_gates.values() for g in gs.values()})
        cl = []
        with torch.no_grad():
            ev(feeds, track=set(gate_names) | set(track), out_ctx=cl)
        shapes = {s: tuple(cl[0].recorded[s][0].shape) for s in track}
        for sl in state_layers:
            for v in sl["vars"]:
                for s in v["sources"]:  # each source produced once per step, with one shape
                    assert len(cl[0].recorded[s]) == sl["T"], (s, len(cl[0].recorded[s]))
                    assert all(tuple(r.shape) == shapes[s] for r in cl[0].recorded[s]), s
            smaps.append(state_index_maps(ev, feeds, sl, shapes))
            hid = state_values(cl[0], sl)
            assert np.array_equal(hid, state_values(base[0], sl)), sl["node"]
            gates = {}
            for g, vname in state_gates.get(sl["node"], {}).items():
                vals = cl[0].recorded[vname]
                assert len(vals) == sl["T"] and all(v.dim() == 2 and v.shape[0] == sl["B"] for v in vals), (g, vname)
                gates[g] = np.stack([v.numpy() for v in vals])
            state_ref.append({"hidden": hid, "gates": gates})
    assert stats["kink"] > KINK_MIN and stats["opkink"] > op_kink_min, (name, stats)
    if clip_range is not None:
        frac = stats["clipped"] / stats["pre"]
        assert clip_range[0] < frac < clip_range[1], (name, frac)
    outputs = {}
    for go in model.graph.output:
        outputs[go.name] = save(d, "output_" + sanitize(go.name) + ".npy", env[go.name].numpy())
    extra = dict(extra or {})
    if on_forward is not None:
        extra.update(on_forward(env, rec) or {})
    if scfg is not None:
        extra = dict({"calls": scfg["calls"], "state": [list(p) for p in scfg["state"]]}, **extra)

    # Jacobians (objective-independent) + their full finite-difference check
    jac = {}
    jac_err = 0.0
    for li, (nname, info) in enumerate(rec.items()):
        for di, dr in enumerate(info["dirs"]):
            steps = fd_steps(dr)
            J = jacobians(dr)
            J["state"] = state_jacobian(dr)
            Jfd = jacobians_fd(dr, steps)
            Jfd["state"] = state_jacobian_fd(dr, steps)
            for kind in J:
                jac_err = max(jac_err, fd_err(J[kind][steps], Jfd[kind][steps], np.max(np.abs(J[kind]))))
            if len(info["iters"]) > 1:
                # through the Loop / Scan itself: the carried state crosses iterations unchanged, so
                # the concatenated run's Jacobian is the one of the real computation
                gsteps = loop_fd_steps(info)
                Jg = loop_state_jacobian_fd(graph, feeds, nname, di, gsteps, ev)
                jac_err = max(jac_err, fd_err(J["state"][gsteps], Jg[gsteps], np.max(np.abs(J["state"]))))
            jac[(nname, di)] = {k: jnorm(v) for k, v in J.items()}
            jn = jac[(nname, di)]
            # the hidden Jacobian is the state Jacobian's (h_last, h_t) block (same perturbation)
            Hn = info["H"]
            hh = J["state"][:, :, :Hn, :Hn]
            assert np.allclose(hh, J["hidden"], rtol=1e-13, atol=1e-13 * float(np.max(np.abs(hh)))), name
            if info["op"] != "LSTM":  # the carried state is h alone
                assert np.allclose(jn["state"], jn["hidden"], rtol=1e-13, atol=0.0), (name, jn)
            if int(info["lens"].min()) == info["T"]:  # no padding: sqrt(B*H) at the final position
                last = 0 if dr["cfg"]["reverse"] else info["T"] - 1
                for kind, v in jn.items():
                    n = 2 * info["H"] if kind == "state" and info["op"] == "LSTM" else info["H"]
                    assert abs(v[last] - math.sqrt(info["B"] * n)) < 1e-12, (name, kind, v)
    # state layers: the Jacobian through the whole model, finite-differenced through it too
    for sl in state_layers:
        T, Bn, Hs = sl["T"], sl["B"], sl["H"]
        J = state_layer_jacobian(ev, feeds, sl)
        steps = list(range(T)) if T <= FULL_JAC_FD_T else fd_steps({"X": torch.zeros(T)})
        Jfd = state_layer_jacobian_fd(ev, feeds, sl, steps)
        Jsum = J.reshape(T, Bn * Hs, Bn, Hs).sum(axis=2)
        jac_err = max(jac_err, fd_err(Jsum[steps], Jfd[steps], np.max(np.abs(J))))
        jn = np.sqrt((J ** 2).sum(axis=(1, 2)))
        assert abs(jn[T - 1] - math.sqrt(Bn * Hs)) < 1e-12, (name, sl["node"], jn)
        jac[("state", sl["node"])] = {"hidden": jn, "state": jn.copy()}
    assert jac_err < FD_TOL, (name, jac_err)

    nweights = sum(v.numel() for info in rec.values() for dr in info["dirs"] for v in dr["leaves"].values())
    full = nweights <= FULL_FD_MAX if fd_full is None else fd_full
    rng = np.random.default_rng(sum(map(ord, name)))
    rng_in = np.random.default_rng(sum(map(ord, name)) + 1)  # samples of the input-gradient checks

    # graph inputs: float ones are leaves; an integer one that indexes an embedding (the indices
    # of a Gather whose data is a float initializer) gets the gradient of the looked-up rows
    graph_inputs = [gi.name for gi in model.graph.input if gi.name not in init_names]
    emb_taps = {}
    for gname in graph_inputs:
        if feeds[gname].is_floating_point():
            continue
        outs = [n.output[0] for n, _ in graph.nodes if n.op_type == "Gather" and len(n.input) > 1
                and n.input[1] == gname and n.input[0] in graph.inits and graph.inits[n.input[0]].is_floating_point()]
        assert len(outs) <= 1, (name, gname, outs)
        if outs:
            emb_taps[gname] = outs[0]
    consumers = {}
    for n in all_nodes(model.graph):
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1

    case_runs = []
    for ri, obj in enumerate(runs):
        tgt_t = None
        objective_json = {"kind": obj["kind"], "output": obj["output"], "timeAxis": obj.get("timeAxis"),
                          "target": None}
        if obj["kind"] == "target":
            fname = "target_run%d.npy" % ri
            save(d, fname, obj["target"])
            objective_json["target"] = fname
            tgt_t = to_t(obj["target"])
        env, rec = ev(feeds)
        L = obj_of(obj, env, tgt_t)
        if L.requires_grad or rec:  # without recurrent ops nothing here requires grad (state layers: below)
            L.backward()
        Lval = float(L)

        def loss(feeds_=feeds, **kw):
            with torch.no_grad():
                e, _ = ev(feeds_, **kw)
                return float(obj_of(obj, e, tgt_t))

        # --- a second pass for the gradients with respect to the graph inputs and to each
        # direction's own copy of its input sequence X (the first pass stays as it was)
        xfeeds = {k: v.detach().clone().requires_grad_(True) if v.is_floating_point() else v
                  for k, v in feeds.items()}
        clx = []
        env_x, rec_x = ev(xfeeds, taps=set(emb_taps.values()), xgrad=True, track=track, out_ctx=clx)
        Lx = obj_of(obj, env_x, tgt_t)
        Lx.backward()
        sgrads = [state_grads(clx[0], sl, m) for sl, m in zip(state_layers, smaps)]
        assert float(Lx) == Lval, (name, float(Lx), Lval)
        igrads = {}
        for gname in graph_inputs:
            if gname in emb_taps:
                g = env_x[emb_taps[gname]].grad
            elif xfeeds[gname].is_floating_point():
                g = xfeeds[gname].grad
            else:
                g = None
            if g is not None:  # None: no path from this input to the objective
                igrads[gname] = g.numpy().copy()
        xgrads = {}
        for nname, info in rec_x.items():
            for di, dr in enumerate(info["dirs"]):
                g = xd_grad(dr)
                xgrads[(nname, di)] = g * dr["valid"][:, :, None]
                for k, leaf in dr["leaves"].items():  # the second pass's weight gradients agree
                    g1 = rec[nname]["dirs"][di]["leaves"][k].grad
                    g2 = leaf.grad
                    if g1 is not None or g2 is not None:
                        assert np.allclose(g1.numpy(), g2.numpy(), rtol=1e-12, atol=1e-300), (name, nname, k)
            # a layer whose X is a graph input consumed by nothing else: sum over directions == dL/dX
            xin = info["node"].input[0]
            if xin in igrads and consumers.get(xin) == 1 and len(info["iters"]) == 1:
                tot = sum(xgrads[(nname, di)] for di in range(len(info["dirs"])))
                ref = igrads[xin].transpose(1, 0, 2) if int(info["at"].get("layout", 0)) == 1 else igrads[xin]
                assert np.allclose(tot, ref, rtol=1e-12, atol=1e-14 * float(np.max(np.abs(ref)) + 1e-300)), (name, xin)
        input_grads = {gname: save(d, "run%d_inputgrad_%s.npy" % (ri, sanitize(gname)), g)
                       for gname, g in igrads.items()}

        # --- collect the gradients
        wgrads = {}
        layers = []
        sq = 0.0
        ghid_all = []
        for li, (nname, info) in enumerate(rec.items()):
            op = info["op"]
            dirs = []
            for di, dr in enumerate(info["dirs"]):
                pre = "layer%d_%s_" % (li, dr["direction"])
                valid = dr["valid"][:, :, None]
                zero = torch.zeros(info["B"], info["H"], dtype=torch.float64)
                gh = np.stack([(dr["hs"][t].grad if dr["hs"][t].grad is not None else zero).numpy()
                               for t in range(info["T"])]) * valid
                entry = {"direction": dr["direction"]}
                entry["gradHidden"] = save(d, "run%d_%sgrad_hidden.npy" % (ri, pre), gh)
                dr["gh"] = gh
                ghid_all.append(np.max(np.abs(gh)))
                if op == "LSTM":
                    gc = np.stack([(dr["cs"][t].grad if dr["cs"][t].grad is not None else zero).numpy()
                                   for t in range(info["T"])]) * valid
                    entry["gradCell"] = save(d, "run%d_%sgrad_cell.npy" % (ri, pre), gc)
                    dr["gc"] = gc
                jn = jac[(nname, di)]
                entry["jacobianNorm"] = {}
                for kind, v in jn.items():
                    fn = "%sjacobian_%s.npy" % (pre, kind)
                    if ri == 0:
                        save(d, fn, v)
                    entry["jacobianNorm"][kind] = fn
                entry["weightGrads"] = {}
                for k, leaf in dr["leaves"].items():
                    gval = leaf.grad.numpy() if leaf.grad is not None else np.zeros(tuple(leaf.shape))
                    wgrads[(nname, di, k)] = gval
                    sq += float((gval ** 2).sum())
                    entry["weightGrads"][k] = save(d, "run%d_%swgrad_%s.npy" % (ri, pre, k), gval)
                entry["gradNorm"] = np.sqrt((gh ** 2).sum(axis=(1, 2))).tolist()
                if op == "LSTM":
                    entry["gradCellNorm"] = np.sqrt((gc ** 2).sum(axis=(1, 2))).tolist()
                entry["inputGradNorm"] = np.sqrt((xgrads[(nname, di)] ** 2).sum(axis=(1, 2))).tolist()
                lens_np, rev = info["lens"].numpy(), dr["cfg"]["reverse"]
                entry["decay"] = decay(jn["state"], lens_np, rev, basis="state")
                if op == "LSTM":
                    entry["decayPaths"] = {k: decay(jn[k], lens_np, rev, basis=k) for k in ("hidden", "cell")}
                if op == "LSTM":
                    entry["cellHighway"] = mf.retention(dr["forget"], dr["valid"], info["lens"].numpy(),
                                                        dr["direction"])["cellHighway"]
                dirs.append(entry)
            layer = {"node": nname, "op": op, "path": info["path"]}
            if len(info["iters"]) > 1:
                per = {it["T"] for it in info["iters"]}
                assert len(per) == 1, (name, nname, per)
                layer.update({"iterations": len(info["iters"]), "stepsPerIteration": per.pop()})
            layer["directions"] = dirs
            layers.append(layer)
        for si, (sl, gh, sref) in enumerate(zip(state_layers, sgrads, state_ref)):
            pre = "layer%d_forward_" % (len(rec) + si)
            entry = {"direction": "forward"}
            if ri == 0:
                save(d, pre + "hidden.npy", sref["hidden"])
            entry["hidden"] = pre + "hidden.npy"
            entry["gradHidden"] = save(d, "run%d_%sgrad_hidden.npy" % (ri, pre), gh)
            entry["jacobianNorm"] = {}
            for kind, v in jac[("state", sl["node"])].items():
                fn = "%sjacobian_%s.npy" % (pre, kind)
                if ri == 0:
                    save(d, fn, v)
                entry["jacobianNorm"][kind] = fn
            if sref["gates"]:
                entry["gates"] = {}
                for g, arr in sref["gates"].items():
                    fn = "%sgate_%s.npy" % (pre, g)
                    if ri == 0:
                        save(d, fn, arr)
                    entry["gates"][g] = fn
            entry["gradNorm"] = np.sqrt((gh ** 2).sum(axis=(1, 2))).tolist()
            entry["decay"] = decay(jac[("state", sl["node"])]["state"], np.full(sl["B"], sl["T"]), False, basis="state")
            layers.append({"node": sl["node"], "op": "state", "path": sl["path"], "iterations": sl["T"],
                           "stepsPerIteration": 1,
                           "stateVars": [{"name": v["name"], "shape": v["shape"], "batchAxis": v["batchAxis"]}
                                         for v in sl["vars"]],
                           "directions": [entry]})
        G = math.sqrt(sq)
        # no recurrent op's weights (state layers only): G = 0, nothing to clip
        clipping = {"globalNorm": G, "factors": {str(th): min(1.0, th / G) if G > 0 else 1.0 for th in (1, 5)}}

        # --- finite differences: weights
        wscale = max([float(np.max(np.abs(v))) for v in wgrads.values()] + [0.0])
        ad, fd = [], []
        for key, gval in wgrads.items():
            nname, di, k = key
            base = rec[nname]["dirs"][di]["leaves"][k].detach()
            n = base.numel()
            idxs = range(n) if full else rng.choice(n, min(n, FD_SAMPLE), replace=False)
            for idx in idxs:
                vals = []
                for s, _ in FD_STENCIL:
                    p = base.clone().reshape(-1)
                    p[idx] += s * FD_EPS
                    vals.append(loss(overrides={key: p.reshape(base.shape)}))
                fd.append(fd_combine(vals))
                ad.append(gval.reshape(-1)[idx])
        w_err = fd_err(ad, fd, wscale)
        nw = len(ad)

        # --- finite differences: states h_t, c_t via perturbation hooks
        ad, fd = [], []
        sscale = 0.0
        for nname, info in rec.items():
            for di, dr in enumerate(info["dirs"]):
                for kind, arr in (("h", dr["gh"]), ("c", dr.get("gc"))):
                    if arr is None:
                        continue
                    sscale = max(sscale, float(np.max(np.abs(arr))))
                    T, Bn, H = arr.shape
                    picks = [(T - 1, 0, 0), (0, Bn - 1, H - 1)]
                    picks += [(int(rng.integers(T)), int(rng.integers(Bn)), int(rng.integers(H)))
                              for _ in range(FD_STATE_SAMPLE - 2)]
                    for t, b, j in picks:
                        vals = []
                        for s, _ in FD_STENCIL:
                            delta = torch.zeros(Bn, H, dtype=torch.float64)
                            delta[b, j] = s * FD_EPS
                            vals.append(loss(perturb={(nname, di, kind, t): delta}))
                        fd.append(fd_combine(vals))
                        ad.append(arr[t, b, j])
        # state layers: +-eps on one element of the state after step t, where it is produced
        for sl, gh, m in zip(state_layers, sgrads, smaps):
            sscale = max(sscale, float(np.max(np.abs(gh))))
            T, Bn, Hs = gh.shape
            picks = [(T - 1, 0, 0), (0, Bn - 1, Hs - 1)]
            picks += [(int(rng.integers(T)), int(rng.integers(Bn)), int(rng.integers(Hs)))
                      for _ in range(FD_STATE_SAMPLE - 2)]
            for t, b, j in picks:
                vals = [loss(src_pert=state_source_delta(sl, m, t, b, j, s * FD_EPS)) for s, _ in FD_STENCIL]
                fd.append(fd_combine(vals))
                ad.append(gh[t, b, j])
        s_err = fd_err(ad, fd, sscale)
        ns = len(ad)
        assert w_err < FD_TOL and s_err < FD_TOL, (name, obj["kind"], w_err, s_err)

        # --- finite differences: graph-input gradients (feeds, or the embedding's Gather output)
        ad, fd = [], []
        iscale = max([float(np.max(np.abs(g))) for g in igrads.values()] + [0.0])
        for gname, g in igrads.items():
            n = g.size
            if n <= 2 * FD_INPUT_SAMPLE:
                idxs = range(n)
            else:
                idxs = sorted({int(np.argmax(np.abs(g)))} | set(int(v) for v in rng_in.choice(n, FD_INPUT_SAMPLE, replace=False)))
            for idx in idxs:
                vals = []
                for s, _ in FD_STENCIL:
                    delta = torch.zeros(g.shape, dtype=torch.float64)
                    delta.view(-1)[idx] = s * FD_EPS
                    if gname in emb_taps:
                        vals.append(loss(out_pert={emb_taps[gname]: delta}))
                    else:
                        vals.append(loss(feeds_=dict(feeds, **{gname: feeds[gname] + delta})))
                fd.append(fd_combine(vals))
                ad.append(g.reshape(-1)[idx])
        i_err = fd_err(ad, fd, iscale)
        ni = len(ad)
        # --- finite differences: each direction's X_t (perturbation of that direction's copy)
        ad, fd = [], []
        xscale = max([float(np.max(np.abs(g))) for g in xgrads.values()] + [0.0])
        for (nname, di), g in xgrads.items():
            T, Bn, I = g.shape
            picks = [(T - 1, 0, 0), (0, Bn - 1, I - 1)]
            picks += [(int(rng_in.integers(T)), int(rng_in.integers(Bn)), int(rng_in.integers(I)))
                      for _ in range(FD_STATE_SAMPLE - 2)]
            for t, b, i in picks:
                vals = []
                for s, _ in FD_STENCIL:
                    delta = torch.zeros(T, Bn, I, dtype=torch.float64)
                    delta[t, b, i] = s * FD_EPS
                    vals.append(loss(perturb={(nname, di, "X"): delta}))
                fd.append(fd_combine(vals))
                ad.append(g[t, b, i])
        x_err = fd_err(ad, fd, xscale)
        nx = len(ad)
        assert i_err < FD_TOL and x_err < FD_TOL, (name, obj["kind"], i_err, x_err)

        # --- torch module cross-check (exported cases)
        mod_err = None
        if torch_ref is not None:
            if getattr(torch_ref, "extended", False):  # also the outputs and the state layers
                outs_np = {go.name: env[go.name].detach().numpy() for go in model.graph.output}
                sdata = [{"gradHidden": gh, "hidden": sref["hidden"], "gates": sref["gates"]}
                         for gh, sref in zip(sgrads, state_ref)]
                mod_err = torch_ref(obj, tgt_t, Lval, wgrads, igrads, outs_np, sdata)
            else:
                mod_err = torch_ref(obj, tgt_t, Lval, wgrads, igrads)

        CHECKS.append((name, obj["kind"], obj["output"], Lval, nw, w_err, ns, s_err, jac_err, fwd_err, mod_err,
                       ni, i_err, nx, x_err))
        case_runs.append({"objective": objective_json, "value": Lval, "inputGrads": input_grads, "layers": layers,
                          "clipping": clipping})

    # expected verdicts etc.
    if expect:
        expect(case_runs)
    case = {"name": name, "description": description, "opset": mf.opset_of(model),
            "inputs": inputs, "outputs": outputs}
    case.update(extra)
    case["runs"] = case_runs
    with open(os.path.join(d, "case.json"), "w") as fh:
        json.dump(case, fh, indent=1)
        fh.write("\n")
    verdicts = " ".join("%s:%s" % (e["direction"][:3], e["decay"]["verdict"][:4])
                        for L_ in case_runs[0]["layers"] for e in L_["directions"])
    clip_info = ""
    if stats["pre"]:
        clip_info = " clipped %.0f%%" % (100.0 * stats["clipped"] / stats["pre"])
    SUMMARY.append((name, time.time() - t0, verdicts + clip_info, min(stats["kink"], stats["opkink"])))


# --------------------------------------------------------------------------------------
# torch-exported cases: cross-check against the module's own autograd in float64
# --------------------------------------------------------------------------------------

# ONNX gate order as indices into torch's chunks: LSTM torch i,f,g,o -> ONNX i,o,f,c;
# GRU torch r,z,n -> ONNX z,r,h.
TORCH_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def torch_to_onnx_rows(op, t):
    chunks = torch.chunk(t, NGATE[op], dim=0)
    return torch.cat([chunks[k] for k in TORCH_ORDER[op]], dim=0)


def make_torch_ref(module, args, input_names, output_names):
    m64 = module.double().eval()
    args64 = [a.double() if a.is_floating_point() else a for a in args]
    rnns = [(mod, {torch.nn.LSTM: "LSTM", torch.nn.GRU: "GRU", torch.nn.RNN: "RNN"}[type(mod)])
            for mod in m64.modules() if type(mod) in (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN)]

    def ref(obj, tgt_t, Lval, wgrads, igrads):
        m64.zero_grad()
        leaves = [a.detach().clone().requires_grad_(True) if a.is_floating_point() else a for a in args64]
        looked_up = []  # nn.Embedding outputs: the gradient of the looked-up rows

        def keep(mod, inp, out):
            out.retain_grad()
            looked_up.append(out)

        hooks = [mod.register_forward_hook(keep) for mod in m64.modules() if isinstance(mod, torch.nn.Embedding)]
        outs = m64(*leaves)
        for h in hooks:
            h.remove()
        outs = outs if isinstance(outs, tuple) else (outs,)
        env = dict(zip(output_names, outs))
        L = objective(obj, env, tgt_t)
        L.backward()
        worst = abs(float(L) - Lval) / max(1.0, abs(Lval))
        assert len(looked_up) <= 1, len(looked_up)
        for iname, a in zip(input_names, leaves):
            g = a.grad if a.is_floating_point() else (looked_up[0].grad if looked_up else None)
            assert (g is None) == (iname not in igrads), (iname, g is None)
            if g is not None:
                scale = max(1.0, float(np.max(np.abs(igrads[iname]))))
                worst = max(worst, float(np.max(np.abs(igrads[iname] - g.numpy()))) / scale)
        seen = []
        for key in wgrads:
            if key[0] not in seen:
                seen.append(key[0])
        k = 0
        for mod, op in rnns:
            for layer in range(mod.num_layers):
                nname = seen[k]
                k += 1
                for di in range(2 if mod.bidirectional else 1):
                    sfx = "_l%d%s" % (layer, "_reverse" if di else "")
                    gW = torch_to_onnx_rows(op, getattr(mod, "weight_ih" + sfx).grad).numpy()
                    gR = torch_to_onnx_rows(op, getattr(mod, "weight_hh" + sfx).grad).numpy()
                    gB = torch.cat([torch_to_onnx_rows(op, getattr(mod, "bias_ih" + sfx).grad),
                                    torch_to_onnx_rows(op, getattr(mod, "bias_hh" + sfx).grad)]).numpy()
                    for key, g in (("W", gW), ("R", gR), ("B", gB)):
                        mine = wgrads[(nname, di, key)]
                        scale = max(1.0, float(np.max(np.abs(mine))))
                        worst = max(worst, float(np.max(np.abs(mine - g))) / scale)
        assert k == len(seen), (k, seen)
        assert worst < 1e-10, worst
        return worst

    return ref


def torch_case(name, description, module, args, input_names, output_names, runs, opset=OPSET, expect=None):
    model = mf.export_torch(module, args, input_names, output_names, opset)
    feeds = {n: a.numpy() for n, a in zip(input_names, args)}
    ref = make_torch_ref(module, args, input_names, output_names)
    # graph outputs vs the module (float64)
    write_case(name, description, model, feeds, runs, torch_ref=ref, expect=expect)


class LstmLastGemm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 5)
        self.head = torch.nn.Linear(5, 2)

    def forward(self, x):
        return self.head(self.lstm(x)[0][-1])


class GruHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(3, 5)
        self.head = torch.nn.Linear(5, 3)

    def forward(self, x):
        return self.head(self.gru(x)[0])


class LstmLogSoftmax(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 5)
        self.head = torch.nn.Linear(5, 4)

    def forward(self, x):
        return torch.log_softmax(self.head(self.lstm(x)[0]), dim=-1)


class LstmLayerNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 6)
        # epsilon = the float32 value the ONNX attribute stores, so the module check is exact
        self.norm = torch.nn.LayerNorm(6, eps=float(np.float32(1e-5)))
        self.head = torch.nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.norm(self.lstm(x)[0]))


class LstmStack(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        return y, h, c


RNG = np.random.default_rng(20240915)


def rnd(*shape, scale=0.5):
    return (scale * RNG.standard_normal(shape)).astype(np.float32)


def torch_cases():
    torch.manual_seed(11)
    torch_case("lstm_gemm_head",
               "torch nn.LSTM(3, 5) -> y[-1] (Gather) -> Linear(5, 2) exported as Gemm; x [T=6, B=2, 3], opset 14. "
               "Output y [B, 2] has no time axis.",
               LstmLastGemm(), (torch.randn(6, 2, 3),), ["x"], ["y"],
               [{"kind": "sum", "output": "y"}, {"kind": "l2", "output": "y"}])
    torch.manual_seed(12)
    torch_case("gru_matmul_head",
               "torch nn.GRU(3, 5) (linear_before_reset=1) -> Linear(5, 3) on all steps (MatMul + Add); x [T=7, B=2, 3]. "
               "Output y [T, B, 3]: time axis 0.",
               GruHead(), (torch.randn(7, 2, 3),), ["x"], ["y"],
               [{"kind": "mean", "output": "y"}, {"kind": "last", "output": "y", "timeAxis": 0}])
    torch.manual_seed(13)
    tgt = rnd(5, 2, 4, scale=1.0) - 1.5
    torch_case("lstm_logsoftmax",
               "torch nn.LSTM(4, 5) -> Linear(5, 4) -> LogSoftmax(dim=-1); x [T=5, B=2, 4]. Objective: "
               "mean((logp - target)^2) with target_run0.npy (float32, shape [5, 2, 4]).",
               LstmLogSoftmax(), (torch.randn(5, 2, 4),), ["x"], ["logp"],
               [{"kind": "target", "output": "logp", "target": tgt}])
    torch.manual_seed(14)
    net = LstmLayerNorm()
    with torch.no_grad():
        net.norm.weight.copy_(1.0 + 0.3 * torch.randn(6))
        net.norm.bias.copy_(0.2 * torch.randn(6))
    torch_case("lstm_layernorm",
               "torch nn.LSTM(3, 6) -> LayerNorm(6) (LayerNormalization, opset 17, non-trivial scale/bias) -> "
               "Linear(6, 2) (MatMul + Add); x [T=6, B=2, 3].",
               net, (torch.randn(6, 2, 3),), ["x"], ["y"], [{"kind": "l2", "output": "y"}], opset=17)
    torch.manual_seed(15)
    torch_case("embedding_gru",
               "torch Embedding(11, 4) (Gather) + GRU(4, 6) (linear_before_reset=1) + Linear(6, 3); int64 token ids "
               "[T=8, B=2]. The ids are integers: inputGrads.ids is the gradient of the looked-up embedding rows "
               "(the Gather output), [8, 2, 4]; weightGrads are the GRU's.",
               mf.EmbGru(), (torch.randint(0, 11, (8, 2)),), ["ids"], ["logits"],
               [{"kind": "sum", "output": "logits"}])
    torch.manual_seed(16)
    torch_case("stacked_bidir_torch",
               "torch nn.LSTM(3, 4, num_layers=2, bidirectional=True), x [T=6, B=2, 3]; two bidirectional LSTM nodes "
               "joined by Transpose+Reshape; objective mean(y), y [T, B, 8]. Layer 0's gradHidden collects both "
               "directions of layer 1.",
               LstmStack(), (torch.randn(6, 2, 3),), ["x"], ["y", "h_n", "c_n"],
               [{"kind": "mean", "output": "y"}])


# --------------------------------------------------------------------------------------
# Hand-built graphs
# --------------------------------------------------------------------------------------

vi, init, build = mf.vi, mf.init, mf.build


def rec_weights(op, D, H, I, bias=True, peep=False, scale=0.5):
    g = NGATE[op]
    ws = {"W": rnd(D, g * H, I, scale=scale), "R": rnd(D, g * H, H, scale=scale)}
    if bias:
        ws["B"] = rnd(D, 2 * g * H, scale=0.3)
    if peep:
        ws["P"] = rnd(D, 3 * H, scale=0.5)
    return ws


def expect_verdict(verdict, node=0, direction=0):
    def check(runs):
        for r in runs:
            v = r["layers"][node]["directions"][direction]["decay"]["verdict"]
            assert v == verdict, (v, verdict)
    return check


def expect_all(*checks):
    def check(runs):
        for c in checks:
            c(runs)
    return check


def expect_positive(case, fname):
    def check(runs):
        assert np.load(os.path.join(OUT, case, fname)).min() > 0.0, case
    return check


def expect_forget_rows_zero(runs):
    # input_forget=1: the forget rows of W, R, Wb, Rb never enter the computation
    d = os.path.join(OUT, "lstm_input_forget_reverse")
    for r in runs:
        for layer in r["layers"]:
            for e in layer["directions"]:
                H = np.load(os.path.join(d, e["weightGrads"]["R"])).shape[1]
                for k in ("W", "R"):
                    g = np.load(os.path.join(d, e["weightGrads"][k]))
                    assert not g[2 * H: 3 * H].any() and g[: 2 * H].any()
                b = np.load(os.path.join(d, e["weightGrads"]["B"]))
                assert not b[2 * H: 3 * H].any() and not b[6 * H: 7 * H].any()


def hand_cases():
    # 6. LSTM -> Squeeze -> Tanh -> Mul const -> GRU
    T, B, I, H1, H2 = 6, 2, 3, 5, 4
    w1 = rec_weights("LSTM", 1, H1, I)
    w2 = rec_weights("GRU", 1, H2, H1)
    nodes = [
        helper.make_node("LSTM", ["x", "l1_W", "l1_R", "l1_B"], ["l1_Y", "", ""], name="lstm_first", hidden_size=H1),
        helper.make_node("Squeeze", ["l1_Y", "axes1"], ["l1_seq"], name="squeeze_dir"),
        helper.make_node("Tanh", ["l1_seq"], ["l1_tanh"], name="tanh"),
        helper.make_node("Constant", [], ["scale"], name="scale_const",
                         value=numpy_helper.from_array(np.array(1.5, np.float32), "scale_value")),
        helper.make_node("Mul", ["l1_tanh", "scale"], ["g2_in"], name="scale_mul"),
        helper.make_node("GRU", ["g2_in", "g2_W", "g2_R", "g2_B"], ["y", "y_h"], name="gru_second", hidden_size=H2),
    ]
    inits = [init("l1_" + k, v) for k, v in w1.items()] + [init("g2_" + k, v) for k, v in w2.items()]
    inits.append(init("axes1", np.array([1], np.int64)))
    m = build(nodes, [vi("x", F, [T, B, I])], [vi("y", F, [T, 1, B, H2]), vi("y_h", F, [1, B, H2])],
              inits, "two_layers_ops")
    write_case("two_layers_ops",
               "LSTM(3->5) -> Squeeze(axis 1) -> Tanh -> Mul by Constant 1.5 -> GRU(5->4, linear_before_reset=0); "
               "outputs the GRU's Y [T,1,B,4] and Y_h. 'last' uses Y's time axis 0. The LSTM's gradHidden comes "
               "through the ops and the GRU's input.",
               m, {"x": rnd(T, B, I, scale=1.0)},
               [{"kind": "sum", "output": "y"}, {"kind": "last", "output": "y", "timeAxis": 0}])

    # 7. encoder / decoder
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
               "second graph input; decoder Y -> Squeeze(axis 1) -> MatMul+Add head, y [T=4, B, 2]. The encoder's Y "
               "is unused: its gradients arrive only through the decoder's initial states (so its gradHidden is "
               "the recurrence's carry of dL/dY_h, dL/dY_c). Runs: mean(y); mean((y - target)^2).",
               m, {"x_enc": rnd(T1, B, I1, scale=1.0), "x_dec": rnd(T2, B, I2, scale=1.0)},
               [{"kind": "mean", "output": "y"},
                {"kind": "target", "output": "y", "target": rnd(T2, B, 2, scale=1.0)}])

    # 8. bidirectional LSTM with sequence_lens and bias
    T, B, I, H, D = 7, 3, 3, 4, 2
    w = rec_weights("LSTM", D, H, I)
    n = helper.make_node("LSTM", ["X", "W", "R", "B", "seq_lens"], ["Y", "Y_h", "Y_c"],
                         name="lstm_seq_bidir", hidden_size=H, direction="bidirectional")
    m = build([n], [vi("X", F, [T, B, I]), vi("seq_lens", I32, [B])],
              [vi("Y", F, [T, D, B, H]), vi("Y_h", F, [D, B, H]), vi("Y_c", F, [D, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_bidir_seqlens")
    write_case("lstm_bidir_seqlens",
               "bidirectional LSTM with bias and sequence_lens=[5,3,7] (int32 graph input), T=7, B=3. gradHidden, "
               "gradCell and jacobianNorm are 0 at padded (t >= len[b]) positions; the forward final state is at "
               "len[b]-1, the reverse one at 0. 'last' = sum of Y[T-1] (only batch element 2 is valid there; the "
               "others' Y[T-1] is the constant 0). Decay window t = 0..6 (max len 7).",
               m, {"X": rnd(T, B, I, scale=1.0), "seq_lens": np.array([5, 3, 7], np.int32)},
               [{"kind": "sum", "output": "Y"}, {"kind": "last", "output": "Y", "timeAxis": 0}])

    # 9. RNN tanh, long, small weights: vanishing
    T, B, I, H = 12, 2, 3, 5
    w = {"W": rnd(1, H, I, scale=0.6), "R": rnd(1, H, H, scale=0.15), "B": rnd(1, 2 * H, scale=0.2)}
    n = helper.make_node("RNN", ["X", "W", "R", "B"], ["Y", "Y_h"], name="rnn_tanh_long", hidden_size=H)
    m = build([n], [vi("X", F, [T, B, I])], [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "rnn_tanh_long")
    write_case("rnn_tanh_long",
               "forward tanh RNN, T=12, B=2, H=5, R ~ 0.15 N(0,1) (sigma_max(R) well below 1): jacobianNorm.hidden "
               "decays geometrically from the last step, decay verdict 'vanishing'.",
               m, {"X": rnd(T, B, I, scale=1.0)}, [{"kind": "sum", "output": "Y"}],
               expect=expect_verdict("vanishing"))

    # 10. RNN relu, R scaled up: exploding
    T, B, I, H = 10, 2, 3, 4
    R = (1.2 * np.eye(H) + 0.03 * np.abs(RNG.standard_normal((H, H)))).astype(np.float32)[None]
    w = {"W": rnd(1, H, I, scale=0.2), "R": R, "B": (0.5 + 0.1 * np.abs(rnd(1, 2 * H, scale=1.0))).astype(np.float32)}
    n = helper.make_node("RNN", ["X", "W", "R", "B"], ["Y", "Y_h"], name="rnn_relu_explode", hidden_size=H,
                         activations=["Relu"])
    m = build([n], [vi("X", F, [T, B, I])], [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "rnn_relu_explode")
    write_case("rnn_relu_explode",
               "forward Relu RNN (activations [Relu]), T=10, B=2, H=4, R = 1.2 I + 0.03 |N(0,1)| (non-negative), "
               "biases ~0.5: every pre-activation stays positive (asserted), so dh_last/dh_t = (R^T)^(T-1-t) grows "
               "~1.23x per step away from the end: verdict 'exploding', reach null (beyond T).",
               m, {"X": rnd(T, B, I, scale=1.0)}, [{"kind": "l2", "output": "Y"}],
               expect=expect_all(expect_verdict("exploding"), expect_positive("rnn_relu_explode", "output_Y.npy")))

    # 11. peepholes + clip
    T, B, I, H = 6, 2, 3, 4
    w = rec_weights("LSTM", 1, H, I, peep=True, scale=0.8)
    n = helper.make_node("LSTM", ["X", "W", "R", "B", "", "initial_h", "initial_c", "P"], ["Y", "Y_h", "Y_c"],
                         name="lstm_peephole_clip", hidden_size=H, clip=2.0)
    m = build([n], [vi("X", F, [T, B, I]), vi("initial_h", F, [1, B, H]), vi("initial_c", F, [1, B, H])],
              [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H]), vi("Y_c", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_peephole_clip")
    write_case("lstm_peephole_clip",
               "forward LSTM with peepholes P=[Pi,Po,Pf] (Po uses the new C_t) and clip=2.0 on every gate "
               "pre-activation (cell candidate included; not on C_t). About 27% of the gate pre-activations "
               "(asserted between 15% and 40%) are clipped: the gradient through a clipped pre-activation is 0 (torch.clamp "
               "semantics: at |x| == clip exactly the gradient would pass; no pre-activation is within 1e-4 of the "
               "bound here). initial_h/initial_c are graph inputs; weightGrads include P [3H].",
               m, {"X": rnd(T, B, I, scale=1.5), "initial_h": rnd(1, B, H), "initial_c": rnd(1, B, H, scale=1.0)},
               [{"kind": "sum", "output": "Y"}], clip_range=(0.15, 0.40))

    # 12. input_forget, reverse
    T, B, I, H = 6, 2, 3, 4
    w = rec_weights("LSTM", 1, H, I)
    n = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"],
                         name="lstm_input_forget", hidden_size=H, direction="reverse", input_forget=1)
    m = build([n], [vi("X", F, [T, B, I])],
              [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H]), vi("Y_c", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_input_forget_reverse")
    write_case("lstm_input_forget_reverse",
               "reverse LSTM with input_forget=1 (onnxruntime's coupling f_t = 1 - i_t), T=6, B=2, H=4. The forget "
               "rows (2H..3H) of W, R, Wb and Rb do not enter the computation: their weightGrads are exactly 0. "
               "The final state (h_last) is the one after t=0; jacobianNorm is sqrt(B*H) at t=0.",
               m, {"X": rnd(T, B, I, scale=1.0)}, [{"kind": "sum", "output": "Y"}], expect=expect_forget_rows_zero)

    # 13. GRU lbr=0, bidirectional, HardSigmoid + ScaledTanh, no B
    T, B, I, H, D = 6, 2, 3, 4, 2
    w = rec_weights("GRU", D, H, I, bias=False, scale=0.9)
    n = helper.make_node("GRU", ["X", "W", "R"], ["Y", "Y_h"],
                         name="gru_lbr0_activations", hidden_size=H, direction="bidirectional",
                         linear_before_reset=0,
                         activations=["HardSigmoid", "ScaledTanh", "HardSigmoid", "ScaledTanh"],
                         activation_alpha=[0.4, 1.2, 0.35, 1.1], activation_beta=[0.5, 0.7, 0.55, 0.6])
    m = build([n], [vi("X", F, [T, B, I])], [vi("Y", F, [T, D, B, H]), vi("Y_h", F, [D, B, H])],
              [init(k, v) for k, v in w.items()], "gru_lbr0_activations")
    write_case("gru_lbr0_activations",
               "bidirectional GRU, linear_before_reset=0, no B input (weightGrads.B is the gradient of the implicit "
               "zero bias [2*3H]), activations [HardSigmoid, ScaledTanh, HardSigmoid, ScaledTanh], "
               "activation_alpha=[0.4, 1.2, 0.35, 1.1], activation_beta=[0.5, 0.7, 0.55, 0.6] consumed in order: "
               "forward f = HardSigmoid(0.4, 0.5), g = 1.2 tanh(0.7 x); reverse f = HardSigmoid(0.35, 0.55), "
               "g = 1.1 tanh(0.6 x). Some gates saturate at exactly 0/1 (gradient 0 there).",
               m, {"X": rnd(T, B, I, scale=1.5)}, [{"kind": "l2", "output": "Y"}])

    # 14. layout=1, bidirectional, initial states as graph inputs
    B, T, I, H, D = 2, 5, 3, 4, 2
    w = rec_weights("LSTM", D, H, I)
    n = helper.make_node("LSTM", ["X", "W", "R", "B", "", "initial_h", "initial_c"], ["Y", "Y_h", "Y_c"],
                         name="lstm_layout1", hidden_size=H, direction="bidirectional", layout=1)
    m = build([n], [vi("X", F, [B, T, I]), vi("initial_h", F, [B, D, H]), vi("initial_c", F, [B, D, H])],
              [vi("Y", F, [B, T, D, H]), vi("Y_h", F, [B, D, H]), vi("Y_c", F, [B, D, H])],
              [init(k, v) for k, v in w.items()], "lstm_layout1")
    write_case("lstm_layout1",
               "LSTM layout=1 (X [B,T,I], Y [B,T,D,H], Y_h/Y_c [B,D,H]), bidirectional, initial_h/initial_c graph "
               "inputs [B,D,H]. Per-step gradients are still [T,B,H]. Runs: sum(Y); l2 of Y_h (gradient enters "
               "only through the final states); last on Y with time axis 1. onnxruntime refuses layout=1.",
               m, {"X": rnd(B, T, I, scale=1.0), "initial_h": rnd(B, D, H), "initial_c": rnd(B, D, H)},
               [{"kind": "sum", "output": "Y"}, {"kind": "l2", "output": "Y_h"},
                {"kind": "last", "output": "Y", "timeAxis": 1}])


# --------------------------------------------------------------------------------------
# Cases for report v3: the state-space Jacobian, range limits of float32, every recurrent
# activation, sequence_lens / layout=1 for GRU and RNN, input gradients. Each draws from its
# own generator so the earlier cases' data never moves.
# --------------------------------------------------------------------------------------


def crnd(rng, *shape, scale=0.5):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def ld(case, fname):
    return np.load(os.path.join(OUT, case, fname))


def entry_of(run, node=0, direction=0):
    return run["layers"][node]["directions"][direction]


def expect_decay(verdict, node=0, direction=0, path=None, check=None):
    """decay (path None) or decayPaths[path] of one direction has this verdict (every run);
    check(decay_dict) may assert more."""
    def run_check(runs):
        for r in runs:
            e = entry_of(r, node, direction)
            dc = e["decay"] if path is None else e["decayPaths"][path]
            assert dc["verdict"] == verdict, (path, dc, verdict)
            if check is not None:
                check(dc)
    return run_check


def positive_matrix(rng, n, radius):
    """A positive matrix (entries > 0) with Perron root `radius` (after the float32 cast, close)."""
    m = np.abs(rng.standard_normal((n, n))) + 0.2
    return (m * (radius / max(abs(np.linalg.eigvals(m))))).astype(np.float32)


def expect_closed_form(case, A, batch, rel=1e-10, kind="state"):
    """jacobianNorm[kind][T-1-d] == sqrt(batch) * ||A^d||_F (forward direction, no padding)."""
    def check(runs):
        jn = ld(case, entry_of(runs[0])["jacobianNorm"][kind])
        T = jn.shape[0]
        P = np.eye(A.shape[0])
        A64 = A.astype(np.float64)
        for d in range(T):
            ref = math.sqrt(batch) * float(np.sqrt((P ** 2).sum()))
            assert abs(jn[T - 1 - d] - ref) <= rel * ref, (case, d, jn[T - 1 - d], ref)
            P = A64 @ P
    return check


def rnn_model(name, T, B, I, H, w, acts=None, alphas=None, betas=None, direction="forward", layout=0,
              seq_lens=False, init_h=False, post=None, **attrs):
    """A single RNN/GRU node (op from the weights' row count) as a model; post: extra nodes/outputs."""
    D = 2 if direction == "bidirectional" else 1
    op = {1: "RNN", 3: "GRU", 4: "LSTM"}[w["W"].shape[1] // H]
    ins = ["X", "W", "R", "B" if "B" in w else ""]
    gin = [vi("X", F, [B, T, I] if layout else [T, B, I])]
    if seq_lens:
        ins.append("seq_lens")
        gin.append(vi("seq_lens", I32, [B]))
    if init_h:
        ins += [""] * (5 - len(ins)) + ["initial_h"]
        gin.append(vi("initial_h", F, [B, D, H] if layout else [D, B, H]))
    while ins and ins[-1] == "":
        ins.pop()
    kw = dict(attrs, hidden_size=H, direction=direction)
    if layout:
        kw["layout"] = 1
    if acts:
        kw["activations"] = acts
    if alphas:
        kw["activation_alpha"] = alphas
    if betas:
        kw["activation_beta"] = betas
    outs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    nodes = [helper.make_node(op, ins, outs, name=name, **kw)]
    gout = [vi("Y", F, [B, T, D, H] if layout else [T, D, B, H]), vi("Y_h", F, [B, D, H] if layout else [D, B, H])]
    inits = [init(k, v) for k, v in w.items()]
    if post:
        more_nodes, more_out, more_inits = post
        nodes += more_nodes
        gout = more_out
        inits += more_inits
    return build(nodes, gin, gout, inits, name)


def simulate_relu_rnn_f32(X, W, R, Bv):
    """The Relu RNN recurrence in float32 NumPy (h0 = 0); the first step with a non-finite state."""
    H = R.shape[0]
    h = np.zeros((X.shape[1], H), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(X.shape[0]):
            h = np.maximum(X[t] @ W.T + h @ R.T + Bv[:H] + Bv[H:], np.float32(0.0))
            assert h.dtype == np.float32
            if not np.all(np.isfinite(h)):
                return t
    return None


def new_cases():
    # --- 1. Relu RNN, positive R of spectral radius 0.8, T=400: (R^T)^d exactly, below 1e-35
    name = "rnn_relu_positive_long"
    rng = np.random.default_rng(401)
    T, B, I, H = 400, 1, 2, 4
    R = positive_matrix(rng, H, 0.8)
    w = {"W": (0.3 + np.abs(crnd(rng, 1, H, I))).astype(np.float32), "R": R[None],
         "B": (0.2 + 0.3 * rng.random((1, 2 * H))).astype(np.float32)}
    X = (0.5 + rng.random((T, B, I))).astype(np.float32)

    def positive_pre(env, rec):
        # Y = relu(pre) > 0.1 everywhere means pre > 0.1 everywhere (relu(pre) = 0 for pre <= 0)
        pre_min = float(np.min(env["Y"].numpy()))
        assert pre_min > 0.1, pre_min
        return {}

    def tiny(runs):
        jn = ld(name, entry_of(runs[0])["jacobianNorm"]["state"])
        assert jn.min() < 1e-35 and jn.min() > 0, jn.min()

    write_case(name,
               "forward Relu RNN, H=4, T=400, B=1, R a positive matrix of spectral radius 0.8 (float32), W, X and "
               "both biases positive: every pre-activation stays > 0.1 (asserted), so relu' = 1 everywhere and "
               "dh_last/dh_t = R^d (d = T-1-t) exactly; jacobianNorm (state = hidden) equals the closed form "
               "||R^d||_F to 1e-10 relative (asserted) and falls to about 1e-39 at t=0 (asserted < 1e-35), below "
               "float32's smallest normal number (1.2e-38): a float32 Jacobian would underflow to subnormals and "
               "0. Verdict vanishing. Objective sum(Y).",
               rnn_model(name, T, B, I, H, w, acts=["Relu"]), {"X": X}, [{"kind": "sum", "output": "Y"}],
               on_forward=positive_pre,
               expect=expect_all(expect_decay("vanishing"), expect_closed_form(name, R, B), tiny))

    # --- 2. Affine RNN, exactly zero state, alpha*R of spectral radius 2.1: beyond 1e40
    name = "rnn_affine_explode_1e40"
    rng = np.random.default_rng(402)
    T, B, I, H = 130, 2, 2, 4
    alpha, beta = 1.5, 0.75
    R = positive_matrix(rng, H, 1.4)
    Bv = np.zeros((1, 2 * H), np.float32)
    Bv[0, :H] = -beta / alpha  # -0.5: alpha * (-0.5) + beta == 0 exactly, in any precision
    w = {"W": crnd(rng, 1, H, I), "R": R[None], "B": Bv}
    post = ([helper.make_node("Constant", [], ["tiny"], name="tiny_const",
                              value=numpy_helper.from_array(np.array(1e-25, np.float32), "tiny_value")),
             helper.make_node("Mul", ["Y", "tiny"], ["y"], name="scale_down")],
            [vi("y", F, [T, 1, B, H])], [])

    def zero_state(env, rec):
        assert not env["Y"].numpy().any()  # float64: exactly 0
        return {}

    def huge(runs):
        jn = ld(name, entry_of(runs[0])["jacobianNorm"]["state"])
        assert jn[0] > 1e40, jn[0]
        dc = entry_of(runs[0])["decay"]
        assert dc["survival"] > 1e40, dc

    write_case(name,
               "forward RNN with activation Affine(alpha=1.5, beta=0.75), H=4, T=130, B=2, X = 0 and no initial "
               "state, Wb = -0.5 = -beta/alpha, Rb = 0: every pre-activation is exactly -0.5 and every state exactly "
               "0 (1.5 * -0.5 + 0.75 = 0 in float32 as in float64; asserted), so the forward pass is exact in any "
               "precision. R is positive with spectral radius 1.4 (alpha*R: 2.1), and dh_last/dh_t = (alpha R)^d "
               "exactly; jacobianNorm equals sqrt(B) ||(alpha R)^d||_F to 1e-10 relative (asserted) and exceeds "
               "1e40 at t=0 (asserted), beyond float32's largest value 3.4e38. Verdict exploding, survival > 1e40 "
               "(asserted). Y is scaled by a Constant 1e-25 (Mul) before the objective sum(y) (L = 0), so every "
               "gradient (at most ~1e17) and even the squared global gradient norm (~1e36) stay in float32's range: "
               "only the Jacobian norm leaves it.",
               rnn_model(name, T, B, I, H, w, acts=["Affine"], alphas=[alpha], betas=[beta], post=post),
               {"X": np.zeros((T, B, I), np.float32)}, [{"kind": "sum", "output": "y"}],
               on_forward=zero_state,
               expect=expect_all(expect_decay("exploding"), expect_closed_form(name, alpha * R.astype(np.float64), B), huge))

    # --- 3. Relu RNN, R = 1.5 I: float32 forward overflows, float64 does not
    name = "rnn_relu_overflow"
    rng = np.random.default_rng(403)
    T, B, I, H = 400, 1, 2, 4
    R = (1.5 * np.eye(H)).astype(np.float32)
    w = {"W": (0.2 + 0.5 * rng.random((1, H, I))).astype(np.float32), "R": R[None],
         "B": (0.1 + 0.2 * rng.random((1, 2 * H))).astype(np.float32)}
    X = (0.5 + rng.random((T, B, I))).astype(np.float32)
    step32 = simulate_relu_rnn_f32(X[:, :, :], w["W"][0], w["R"][0], w["B"][0])

    def overflow(env, rec):
        Y = env["Y"].numpy()
        assert np.all(np.isfinite(Y)) and float(np.min(Y)) > 0.1 and float(np.max(Y)) > 1e60, np.max(Y)
        assert step32 is not None and 200 < step32 < 240, step32
        # float32's largest value is crossed by the float64 trajectory at about the same step
        over = np.nonzero(np.max(Y[:, 0], axis=(1, 2)) > float(np.finfo(np.float32).max))[0]
        assert abs(int(over[0]) - step32) <= 1, (over[0], step32)
        return {"float32Overflow": True, "float32OverflowStep": step32}

    write_case(name,
               "forward Relu RNN with R = 1.5 I, H=4, T=400, B=1, positive W, X and biases (every pre-activation > "
               "0.1, asserted): the state grows by 1.5x per step. In float32 the forward state overflows to +inf at "
               "step float32OverflowStep (the first t whose h_t holds inf when the recurrence is run in float32 "
               "NumPy: 215; the float64 trajectory crosses float32's largest value at the same step, asserted), so "
               "a float32 engine has no finite forward values from there on, nor a finite objective or gradients; "
               "in float64 every value is "
               "finite (h_T-1 ~ 1e70) and the references below are the float64 ones: jacobianNorm = 1.5^d "
               "sqrt(B*H) exactly (closed form asserted), verdict exploding. For this case a float32 engine is "
               "expected to report the non-finite values (verdict invalid, a warning, clipping factors null), "
               "not to match these numbers.",
               rnn_model(name, T, B, I, H, w, acts=["Relu"]), {"X": X}, [{"kind": "sum", "output": "Y"}],
               on_forward=overflow,
               expect=expect_all(expect_decay("exploding"), expect_closed_form(name, R, B)))

    # --- 4. LSTM whose cell path holds the state Jacobian while the hidden path vanishes
    name = "lstm_forget_plateau"
    rng = np.random.default_rng(7)
    T, B, I, H = 50, 2, 3, 6
    highway = [0, 1, 2, 3]
    W = crnd(rng, 4 * H, I)
    Rm = crnd(rng, 4 * H, H, scale=0.3)
    Bv = crnd(rng, 8 * H, scale=0.3)
    for u in highway:  # gate order i, o, f, c; Wb first
        Bv[2 * H + u] = 8.0   # forget gate ~ 0.9997: the cell carries its value
        Bv[u] = -8.0          # input gate ~ 3e-4: h_t hardly writes into those cells
    w = {"W": W[None], "R": Rm[None], "B": Bv[None]}
    X = rng.standard_normal((T, B, I)).astype(np.float32)
    n = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], name=name, hidden_size=H)
    m = build([n], [vi("X", F, [T, B, I])],
              [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H]), vi("Y_c", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], name)

    def plateau(runs):
        e = entry_of(runs[0])
        jn = ld(name, e["jacobianNorm"]["state"])[::-1]  # by distance d from the last step
        assert jn[0] / jn[3] > 1.4 and jn[3] / jn[T - 1] < 1.05, jn[:6]  # drops, then holds
        assert e["decayPaths"]["hidden"]["reach"] is not None

    write_case(name,
               "forward LSTM, H=6, T=50, B=2, small R (0.3 N(0,1)); units 0-3 have forget bias +8 (f ~ 0.9997) and "
               "input bias -8 (i ~ 3e-4), units 4-5 ordinary. The state Jacobian d(h_last, c_last)/d(h_t, c_t) "
               "drops from sqrt(2BH) = 4.9 to about 3.2 over the last few steps (the h block and units 4-5 die "
               "out) and then holds, carried by the four cells (f^d ~ 0.98 over the window): decay (basis state) "
               "is stable. The hidden path alone dh_last/dh_t enters those cells only through the nearly closed "
               "input gate, so decayPaths.hidden is vanishing (survival ~ 4e-5) with a finite reach; "
               "decayPaths.cell is stable. The case shows why the report's verdict is fitted on the state: the "
               "h-only Jacobian calls a layer with a working cell highway vanishing.",
               m, {"X": X}, [{"kind": "sum", "output": "Y"}],
               expect=expect_all(expect_decay("stable"), expect_decay("vanishing", path="hidden"),
                                 expect_decay("stable", path="cell"), plateau))

    # --- 5a. LSTM with forget gates exactly 1 (float32 and float64)
    name = "lstm_forget_saturated"
    rng = np.random.default_rng(55)
    T, B, I, H = 8, 2, 3, 4
    sat = [0, 2]
    W = crnd(rng, 4 * H, I)
    Rm = crnd(rng, 4 * H, H, scale=0.4)
    Bv = crnd(rng, 8 * H, scale=0.3)
    for u in sat:
        Bv[2 * H + u] = 50.0  # sigmoid(> 37) rounds to 1.0 in float64 and in float32
    w = {"W": W[None], "R": Rm[None], "B": Bv[None]}
    X = rng.standard_normal((T, B, I)).astype(np.float32)
    n = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], name=name, hidden_size=H)
    m = build([n], [vi("X", F, [T, B, I])],
              [vi("Y", F, [T, 1, B, H]), vi("Y_h", F, [1, B, H]), vi("Y_c", F, [1, B, H])],
              [init(k, v) for k, v in w.items()], name)

    def saturated(env, rec):
        dr = rec[name]["dirs"][0]
        f = dr["forget"]
        assert np.all(f[:, :, sat] == 1.0), f[:, :, sat].min()
        others = [u for u in range(H) if u not in sat]
        assert np.all(f[:, :, others] < 0.999)
        ret = mf.retention(f, dr["valid"], rec[name]["lens"].numpy(), "forward")
        assert all(ret["meanForget"][u] >= 1.0 and ret["horizon"][u] == mf.HORIZON_INF for u in sat), ret
        return {"forgetSaturated": [{"node": name, "direction": "forward", "units": sat}]}

    def sat_grads(runs):
        for r in runs:
            gb = ld(name, entry_of(r)["weightGrads"]["B"])
            assert not gb[[2 * H + u for u in sat]].any() and not gb[[6 * H + u for u in sat]].any()

    write_case(name,
               "forward LSTM, H=4, T=8, B=2, forget bias (Wb) 50 on units 0 and 2 (listed in forgetSaturated): "
               "their forget pre-activation stays above 37, where the logistic function rounds to exactly 1.0 in "
               "float64, and so in float32 too (asserted at every step): mean forget = 1 for those units, retention "
               "horizon infinite (1e30), and their forget rows' bias gradients are exactly 0 (sigmoid' = 0 there; "
               "asserted). The cell Jacobian of those units is carried without decay.",
               m, {"X": X}, [{"kind": "sum", "output": "Y"}], on_forward=saturated, expect=sat_grads)

    # --- 5b. Relu RNN whose units all die at one step: exact zeros in the Jacobian
    name = "rnn_relu_dead_units"
    rng = np.random.default_rng(56)
    T, B, I, H, k = 10, 2, 3, 4, 3
    w = {"W": (0.3 + np.abs(crnd(rng, 1, H, I))).astype(np.float32), "R": positive_matrix(rng, H, 0.7)[None],
         "B": (0.1 + 0.2 * rng.random((1, 2 * H))).astype(np.float32)}
    X = (0.5 + rng.random((T, B, I))).astype(np.float32)
    X[k] = -20.0  # every pre-activation of step k is negative: all units dead for every batch element

    def dead(runs):
        e = entry_of(runs[0])
        jn = ld(name, e["jacobianNorm"]["state"])
        assert not jn[:k].any() and jn[k:].min() > 0, jn
        dc = e["decay"]
        assert dc["points"] == T - k < dc["window"] == T, dc
        Y = ld(name, "output_Y.npy")
        assert not Y[k].any() and Y[np.arange(T) != k].min() > 0.05

    write_case(name,
               "forward Relu RNN, H=4, T=10, B=2, positive W, R (spectral radius 0.7) and biases, positive inputs "
               "except X[3] = -20: at step 3 every pre-activation is below -1 (kink distance asserted) for every batch "
               "element, so h_3 = 0 and relu' = 0 there: dh_last/dh_t is exactly 0 for t < 3 (asserted). The decay "
               "fit drops those exact zeros: points = 7 < window = 10 (asserted); survival is exactly 0, verdict "
               "vanishing.",
               rnn_model(name, T, B, I, H, w, acts=["Relu"]), {"X": X}, [{"kind": "sum", "output": "Y"}],
               expect=expect_all(expect_decay("vanishing"), dead))

    # --- 7a. bidirectional GRU with sequence_lens; Softsign, ThresholdedRelu
    name = "gru_bidir_seqlens"
    rng = np.random.default_rng(71)
    T, B, I, H = 6, 3, 3, 4
    lens = np.array([5, 2, 4], np.int32)
    w = {"W": crnd(rng, 2, 3 * H, I, scale=0.6), "R": crnd(rng, 2, 3 * H, H, scale=0.5), "B": crnd(rng, 2, 6 * H, scale=0.3)}
    m = rnn_model(name, T, B, I, H, w, acts=["Sigmoid", "Tanh", "Softsign", "ThresholdedRelu"], alphas=[0.2],
                  direction="bidirectional", seq_lens=True, linear_before_reset=1)

    def padded_zero(case, lens, T):
        def check(runs):
            pad = np.arange(T)[:, None] >= lens[None, :]
            full_pad = pad.all(axis=1)
            for r in runs:
                for layer in r["layers"]:
                    for e in layer["directions"]:
                        gh = ld(case, e["gradHidden"])
                        assert not gh[pad].any()
                        for kind in e["jacobianNorm"]:
                            assert not ld(case, e["jacobianNorm"][kind])[full_pad].any()
                        assert not np.array(e["inputGradNorm"])[full_pad].any()
        return check

    write_case(name,
               "bidirectional GRU (linear_before_reset=1) with sequence_lens=[5,2,4] (int32 graph input), T=6, B=3, "
               "H=4; activations forward [Sigmoid, Tanh] (defaults), reverse [Softsign, ThresholdedRelu(alpha=0.2)] "
               "(ThresholdedRelu jumps from 0 to alpha at alpha: every candidate pre-activation is kept away from "
               "0.2, asserted). No element reaches t=5: that row of every jacobianNorm and inputGradNorm is 0 "
               "and the decay window is t = 0..4 (max len 5); padded (t >= len[b]) rows of gradHidden are 0 "
               "(asserted). The forward final state of element b is after step len[b]-1, the reverse one after "
               "step 0. Runs: sum(Y); l2 of Y_h.",
               m, {"X": crnd(rng, T, B, I, scale=1.0), "seq_lens": lens},
               [{"kind": "sum", "output": "Y"}, {"kind": "l2", "output": "Y_h"}],
               expect=expect_all(padded_zero(name, lens, T), expect_window(5)))

    # --- 7b. RNN with sequence_lens and initial_h; LeakyRelu
    name = "rnn_seqlens"
    rng = np.random.default_rng(72)
    T, B, I, H = 7, 3, 3, 4
    lens = np.array([5, 6, 2], np.int32)
    w = {"W": crnd(rng, 1, H, I, scale=0.6), "R": crnd(rng, 1, H, H, scale=0.5), "B": crnd(rng, 1, 2 * H, scale=0.3)}
    write_case(name,
               "forward RNN with activation LeakyRelu(alpha=0.1) (kink distance asserted), sequence_lens=[5,6,2] "
               "(int32 graph input) and initial_h as a graph input, T=7, B=3, H=4. Padded rows of gradHidden are 0, "
               "and so is row t=6 (no element reaches it) of jacobianNorm and inputGradNorm (asserted); decay "
               "window t = 0..5; "
               "runs: sum(Y), and l2 of Y_h (the final state of element b is h_{len[b]-1}); inputGrads holds X "
               "and initial_h, not seq_lens.",
               rnn_model(name, T, B, I, H, w, acts=["LeakyRelu"], alphas=[0.1], seq_lens=True, init_h=True),
               {"X": crnd(rng, T, B, I, scale=1.0), "seq_lens": lens, "initial_h": crnd(rng, 1, B, H)},
               [{"kind": "sum", "output": "Y"}, {"kind": "l2", "output": "Y_h"}],
               expect=expect_all(padded_zero(name, lens, T), expect_window(6), expect_inputs(name, ["X", "initial_h"])))

    # --- 7c. GRU layout=1, bidirectional; Softplus, Elu
    name = "gru_layout1"
    rng = np.random.default_rng(73)
    B, T, I, H = 2, 5, 3, 4
    w = {"W": crnd(rng, 2, 3 * H, I, scale=0.6), "R": crnd(rng, 2, 3 * H, H, scale=0.5), "B": crnd(rng, 2, 6 * H, scale=0.3)}
    write_case(name,
               "GRU layout=1 (X [B,T,I], Y [B,T,D,H], Y_h [B,D,H]), bidirectional, linear_before_reset=0, initial_h "
               "a graph input [B,D,H]; activations forward [Softplus, Elu(alpha=0.8)], reverse [Sigmoid, Tanh]. "
               "Per-step gradients and inputGradNorm are still indexed [T,B,...]; inputGrads X has X's own "
               "[B,T,I] shape (asserted). onnxruntime refuses layout=1; the reference implements it directly.",
               rnn_model(name, T, B, I, H, w, acts=["Softplus", "Elu", "Sigmoid", "Tanh"], alphas=[0.8],
                         direction="bidirectional", layout=1, init_h=True),
               {"X": crnd(rng, B, T, I, scale=1.0), "initial_h": crnd(rng, B, 2, H)},
               [{"kind": "sum", "output": "Y"}, {"kind": "last", "output": "Y", "timeAxis": 1}],
               expect=expect_inputs(name, ["X", "initial_h"], {"X": (B, T, I), "initial_h": (B, 2, H)}))

    # --- 7d. RNN layout=1, reverse; Softsign
    name = "rnn_layout1"
    rng = np.random.default_rng(74)
    B, T, I, H = 2, 6, 3, 4
    w = {"W": crnd(rng, 1, H, I, scale=0.8), "R": crnd(rng, 1, H, H, scale=0.8), "B": crnd(rng, 1, 2 * H, scale=0.3)}
    write_case(name,
               "RNN layout=1 (X [B,T,I], Y [B,T,1,H], Y_h [B,1,H]), reverse, activation Softsign, initial_h a graph "
               "input [B,1,H]. The final state is the one after t=0. Runs: sum(Y); last on Y with time axis 1 "
               "(Y[:, T-1], the reverse direction's first step).",
               rnn_model(name, T, B, I, H, w, acts=["Softsign"], direction="reverse", layout=1, init_h=True),
               {"X": crnd(rng, B, T, I, scale=1.0), "initial_h": crnd(rng, B, 1, H)},
               [{"kind": "sum", "output": "Y"}, {"kind": "last", "output": "Y", "timeAxis": 1}],
               expect=expect_inputs(name, ["X", "initial_h"], {"X": (B, T, I), "initial_h": (B, 1, H)}))

    # --- 8. float graph input through a front end (Transpose, MatMul, Add); an input off the path
    name = "lstm_frontend_inputgrads"
    rng = np.random.default_rng(81)
    B, T, Fin, I, H = 2, 5, 3, 4, 4
    wl = {"W": crnd(rng, 2, 4 * H, I), "R": crnd(rng, 2, 4 * H, H), "B": crnd(rng, 2, 8 * H, scale=0.3)}
    nodes = [
        helper.make_node("Transpose", ["x"], ["x_tm"], name="to_time_major", perm=[1, 0, 2]),
        helper.make_node("MatMul", ["x_tm", "proj_W"], ["x_proj"], name="proj_matmul"),
        helper.make_node("Add", ["x_proj", "proj_B"], ["x_in"], name="proj_add"),
        helper.make_node("LSTM", ["x_in", "W", "R", "B", "", "initial_h"], ["Y", "Y_h"], name="lstm_bidir",
                         hidden_size=H, direction="bidirectional"),
        helper.make_node("Constant", [], ["two"], name="two_const",
                         value=numpy_helper.from_array(np.array(2.0, np.float32), "two_value")),
        helper.make_node("Mul", ["aux", "two"], ["aux_out"], name="aux_mul"),
    ]
    inits = [init(k, v) for k, v in wl.items()] + [init("proj_W", crnd(rng, Fin, I, scale=0.7)),
                                                    init("proj_B", crnd(rng, I, scale=0.2))]
    m = build(nodes, [vi("x", F, [B, T, Fin]), vi("initial_h", F, [2, B, H]), vi("aux", F, [B, 2])],
              [vi("Y", F, [T, 2, B, H]), vi("Y_h", F, [2, B, H]), vi("aux_out", F, [B, 2])], inits, name)
    write_case(name,
               "x [B=2, T=5, 3] -> Transpose(perm 1,0,2) -> MatMul(3x4) + Add -> bidirectional LSTM (H=4) with "
               "initial_h a graph input [2,B,H]; a third graph input aux [B,2] only feeds the graph output aux_out "
               "(Mul by 2). inputGrads holds x ([B,T,3], through the front end) and initial_h; aux has no path to "
               "the objective and is left out (asserted). The LSTM's X is the Add output, read by both directions: "
               "inputGradNorm is per direction (each direction's own copy of X), and their gradients sum to the "
               "one the Add receives. Runs: mean(Y); l2 of Y_h.",
               m, {"x": crnd(rng, B, T, Fin, scale=1.0), "initial_h": crnd(rng, 2, B, H), "aux": crnd(rng, B, 2)},
               [{"kind": "mean", "output": "Y"}, {"kind": "l2", "output": "Y_h"}],
               expect=expect_inputs(name, ["x", "initial_h"], {"x": (B, T, Fin), "initial_h": (2, B, H)}))


def expect_inputs(case, names, shapes=None):
    """inputGrads has exactly these inputs (in graph order), with these shapes."""
    def check(runs):
        for r in runs:
            assert list(r["inputGrads"]) == names, (list(r["inputGrads"]), names)
            for k, shp in (shapes or {}).items():
                assert ld(case, r["inputGrads"][k]).shape == shp, (k, shp)
    return check


def expect_window(W):
    def check(runs):
        for r in runs:
            for layer in r["layers"]:
                for e in layer["directions"]:
                    assert e["decay"]["window"] == W, e["decay"]
    return check


def activation_coverage():
    """Every ONNX recurrent activation appears in some backward case, each one that takes alpha /
    beta at least once with non-default values (bound as make_fixtures.resolve_activations)."""
    seen = {}
    for case in sorted(os.listdir(OUT)):
        path = os.path.join(OUT, case, "model.onnx")
        if not os.path.isfile(path):
            continue
        for node in onnx.load(path).graph.node:
            if node.op_type not in RECURRENT:
                continue
            at = mf.attr_dict(node)
            D = 2 if at.get("direction", "forward") == "bidirectional" else 1
            names = list(at.get("activations") or DEFAULT_ACTS[node.op_type] * D)
            alphas, betas = list(at.get("activation_alpha", [])), list(at.get("activation_beta", []))
            ai = bi = 0
            for n in names:
                takes_a, takes_b, da, db = mf.ACT_PARAMS[n.lower()]
                a = b = None
                if takes_a:
                    a = float(alphas[ai]) if ai < len(alphas) else da
                    ai += ai < len(alphas)
                if takes_b:
                    b = float(betas[bi]) if bi < len(betas) else db
                    bi += bi < len(betas)
                non_default = (takes_a and a != da) or (takes_b and b != db) or not (takes_a or takes_b)
                seen.setdefault(n.lower(), set()).add((case, non_default))
    for n in mf.ACT_PARAMS:
        assert any(nd for _, nd in seen.get(n, ())), ("activation not covered (with non-default alpha/beta)", n)
    return {n: sorted({c for c, nd in v if nd}) for n, v in seen.items()}


# --------------------------------------------------------------------------------------
# Control flow: recurrent nodes inside If branches, a Loop body, a Scan body; a batch-first
# front end with symbolic dims. Exported from torch where the exporter gives the real shape.
# --------------------------------------------------------------------------------------


def name_all_nodes(model):
    """Names every unnamed node (subgraphs included) <op>_<k>, unique in the model."""
    used = {n.name for n in all_nodes(model.graph) if n.name}
    k = 0
    for n in all_nodes(model.graph):
        if not n.name:
            while "%s_%d" % (n.op_type, k) in used:
                k += 1
            n.name = "%s_%d" % (n.op_type, k)
            used.add(n.name)


def export_model(module, args, input_names, output_names, dynamic_axes=None, script=False, opset=OPSET):
    """torch.onnx.export of the module (torch.jit.script'ed first when script: Python control
    flow becomes If / Loop), constant folding on; every node named."""
    module.eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = torch.jit.script(module) if script else module
        with torch.no_grad():
            torch.onnx.export(m, args, f, opset_version=opset, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, do_constant_folding=True)
    model = onnx.load_from_string(f.getvalue())
    name_all_nodes(model)
    # after an export, small float64 convolutions ran ~15x slower (about 1 ms each) until the
    # intra-op thread pool was set up again; the thread count (and so every number) is unchanged
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_num_threads(n)
    return model


def find_nodes(g, op):
    return [n for n in g.node if n.op_type == op]


def branch(node, attr):
    return next(a.g for a in node.attribute if a.name == attr)


def expect_paths(paths):
    """layers[].path (every run), and a loop-carried layer's iterations x steps."""
    def check(runs):
        for r in runs:
            got = [L_["path"] for L_ in r["layers"]]
            assert got == [p for p, _ in paths], (got, paths)
            for L_, (_, it) in zip(r["layers"], paths):
                if it is None:
                    assert "iterations" not in L_, L_.keys()
                else:
                    assert (L_["iterations"], L_["stepsPerIteration"]) == it, (L_["iterations"], L_["stepsPerIteration"], it)
    return check


def expect_seq_len(case, T):
    def check(runs):
        for r in runs:
            for L_ in r["layers"]:
                for e in L_["directions"]:
                    assert ld(case, e["gradHidden"]).shape[0] == T and len(e["inputGradNorm"]) == T
                    assert all(ld(case, f).shape == (T,) for f in e["jacobianNorm"].values())
    return check


def stft_basis(win, nfreq):
    """A Hann-windowed DFT as a Conv1d kernel [2*nfreq, 1, win]: rows cos, then -sin (float32)."""
    n = torch.arange(win, dtype=torch.float64)
    k = torch.arange(nfreq, dtype=torch.float64)
    ang = 2.0 * math.pi * k[:, None] * n[None, :] / win
    hann = 0.5 - 0.5 * torch.cos(2.0 * math.pi * n / win)
    return (torch.cat([torch.cos(ang), -torch.sin(ang)], 0) * hann)[:, None, :].float()


VAD_H = 16  # (written as a literal in the scripted code below)
# The VAD's gradients are ~1e-3 of L (a mean of sigmoids): with e = 1e-4 the float64 rounding of L
# (~1e-16 / e) would reach ~1e-6 of the 1e-3 * scale floor of the error measure; e = 5e-4 keeps it
# ~1e-7. Only the finite differences on x move the front end (the weight overrides are the LSTM's):
# the stencil moves one sample by <= 2e = 1e-3, which moves each DFT magnitude by <= 1e-3 (the
# windowed kernel's entries are <= 1), so a MaxPool window's top two by <= 2e-3 relative to each
# other: every runner-up and Relu input is asserted more than VAD_KINK_MIN from its kink.
VAD_FD_EPS = 5e-4
VAD_KINK_MIN = 2e-3


class Vad(torch.nn.Module):
    """Streaming voice-activity detector in the shape such models ship in (one chunk per call):
    an If on the sample rate selects a front end (an STFT as a strided Conv1d with a fixed DFT
    kernel, magnitude, a Conv1d + Relu encoder, a pooling), an inner If on whether the carried
    state is empty (zeros, or the given h and c), a shared LSTM, then a kernel-1 Conv1d head,
    Sigmoid and the mean over frames; the new state is returned stacked (h, c)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("basis16", stft_basis(32, 9))
        self.register_buffer("basis8", stft_basis(16, 5))
        self.enc16 = torch.nn.Conv1d(9, 12, 3, padding=1)
        self.enc8 = torch.nn.Conv1d(5, 12, 3, stride=2, padding=1)
        self.lstm = torch.nn.LSTM(12, VAD_H)
        self.head = torch.nn.Conv1d(VAD_H, 1, 1)

    def run_lstm(self, f, x, state):
        seq = f.permute(2, 0, 1)
        if state.shape[1] == 0:
            z = torch.zeros(1, x.shape[0], 16, dtype=x.dtype)
            y, (h, c) = self.lstm(seq, (z, z))
        else:
            y, (h, c) = self.lstm(seq, (state[0:1], state[1:2]))
        return y, h, c

    def forward(self, x, sr, state):
        if bool(sr == 16000):
            z = torch.nn.functional.conv1d(x.unsqueeze(1), self.basis16, stride=16, padding=16)
            re = z[:, :9]
            im = z[:, 9:]
            mag = torch.sqrt(re * re + im * im + 0.0009765625)  # 2^-10: exact in float32
            f = torch.nn.functional.avg_pool1d(torch.relu(self.enc16(mag)), 2, 1)
            y, h, c = self.run_lstm(f, x, state)
        else:
            z = torch.nn.functional.conv1d(x.unsqueeze(1), self.basis8, stride=8, padding=8)
            re = z[:, :5]
            im = z[:, 5:]
            mag = torch.sqrt(torch.pow(re, 2.0) + torch.pow(im, 2.0) + 0.0009765625)
            f = torch.relu(self.enc8(torch.nn.functional.max_pool1d(mag, 2, 1)))
            y, h, c = self.run_lstm(f, x, state)
        p = torch.sigmoid(self.head(y.permute(1, 2, 0))).mean(2)
        return p, torch.cat([h, c], 0)


def module_outputs_match(make_module, args, output_names):
    """on_forward: every graph output equals the torch module's own output in float64 (1e-12)."""
    def check(env, rec):
        m64 = make_module().double().eval()
        with torch.no_grad():
            outs = m64(*[a.double() if a.is_floating_point() else a for a in args])
        outs = outs if isinstance(outs, tuple) else (outs,)
        for n_, o in zip(output_names, outs):
            ref = o.numpy()
            err = float(np.max(np.abs(env[n_].numpy() - ref))) / max(1.0, float(np.max(np.abs(ref))))
            assert env[n_].shape == o.shape and err < 1e-12, (n_, err)
        return {}
    return check


def vad_inputs(rng, B, L):
    """Audio-like chunks: a few sinusoids per batch element plus noise; a nonzero state."""
    t = np.arange(L) / 16000.0
    x = np.zeros((B, L))
    for b in range(B):
        for _ in range(3):
            x[b] += rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * rng.uniform(200, 3000) * t + rng.uniform(0, 6.3))
    x += 0.05 * rng.standard_normal((B, L))
    return x.astype(np.float32), crnd(rng, 2, B, VAD_H, scale=0.5)


def vad_cases():
    B, L, T = 2, 256, 16
    torch.manual_seed(2116)
    net = Vad()
    x, state = vad_inputs(np.random.default_rng(2105), B, L)
    args = (torch.tensor(x), torch.tensor(16000, dtype=torch.int64), torch.tensor(state))
    model = export_model(net, args, ["x", "sr", "state"], ["prob", "stateN"],
                         dynamic_axes={"x": {0: "batch"}, "state": {1: "batch"}, "prob": {0: "batch"},
                                       "stateN": {1: "batch"}}, script=True)
    # the exported structure: If(sr) at the top, in each branch an If(state) whose branches hold an
    # LSTM each; weights are Unsqueeze(Concat(Slice(Constant))) in the branches
    top_if = find_nodes(model.graph, "If")
    assert len(top_if) == 1 and not find_nodes(model.graph, "LSTM"), [n.op_type for n in model.graph.node]
    top_if = top_if[0]
    paths = {}
    for sr_branch in ("then_branch", "else_branch"):
        inner = find_nodes(branch(top_if, sr_branch), "If")
        assert len(inner) == 1, sr_branch
        for st_branch in ("then_branch", "else_branch"):
            lstms = find_nodes(branch(inner[0], st_branch), "LSTM")
            assert len(lstms) == 1, (sr_branch, st_branch)
            assert lstms[0].input[1] not in {i.name for i in model.graph.initializer}  # computed weights
            paths[(sr_branch, st_branch)] = [top_if.name, sr_branch, inner[0].name, st_branch, lstms[0].name]
    ops = sorted({n.op_type for n in all_nodes(model.graph)})

    for name, sr, sr_branch, other in (("vad_if_conv", 16000, "then_branch", None),
                                       ("vad_if_conv_sr8k", 8000, "else_branch", "vad_if_conv")):
        torch.manual_seed(2116)
        ref_net = Vad()  # the same parameters, fresh (make_torch_ref turns its module to float64)
        feeds = {"x": x, "sr": np.array(16000 if sr == 16000 else 8000, np.int64), "state": state}
        ref_args = (torch.tensor(x), torch.tensor(feeds["sr"]), torch.tensor(state))
        ref = make_torch_ref(ref_net, ref_args, ["x", "sr", "state"], ["prob", "stateN"])
        path = paths[(sr_branch, "else_branch")]

        def make_vad():
            torch.manual_seed(2116)
            return Vad()

        def differs(runs, other=other, name=name):
            if other is not None:  # taking the other sample-rate branch gives other numbers
                a, b = ld(name, "output_prob.npy"), ld(other, "output_prob.npy")
                assert np.max(np.abs(a - b)) > 1e-3, (a, b)

        front = ("Conv (32-sample DFT kernel, stride 16, pads 16) -> Slice re/im -> Mul, Mul, Add, Add eps, Sqrt -> "
                 "Conv (9->12, kernel 3, pads 1) -> Relu -> Pad + AveragePool (kernel 2, stride 1)"
                 if sr == 16000 else
                 "Conv (16-sample DFT kernel, stride 8, pads 8) -> Slice re/im -> Pow 2, Pow 2, Add, Add eps, Sqrt -> "
                 "MaxPool (kernel 2, stride 1) -> Conv (5->12, kernel 3, stride 2, pads 1) -> Relu")
        write_case(name,
                   "Voice-activity model in the shape streaming VAD models ship in, exported by torch.onnx.export "
                   "from a torch.jit.script'ed module (opset 14, dynamic batch): inputs x [B=2, 256] float audio "
                   "chunk, sr int64 scalar, state [2, B, 16] float (h and c stacked; nonzero). Top-level If "
                   "(Equal(sr, 16000) -> Cast) selects a front end; in each branch an inner If on whether the "
                   "state is empty (Shape -> Gather(1) -> Equal 0: then = zero initial state via ConstantOfShape, "
                   "else = h0, c0 = Slice of state, outer-scope values) holds the LSTM (12 -> 16) whose W, R, B "
                   "are Unsqueeze(Concat(Slice(top-level Constant))) inside the branch (torch's gate order "
                   "reordered to ONNX's). Here sr = %d: the %s of the sr If is taken, then the else_branch of "
                   "the state If (the state is given), so the one layer reported has path %s (asserted; the "
                   "other three LSTM nodes do not run and are not reported). Front end of this branch: %s; then "
                   "Transpose to [T=16, B, 12] -> LSTM -> Squeeze -> Transpose(1,2,0) -> Conv (16->1, kernel 1) "
                   "-> Sigmoid -> ReduceMean over frames -> prob [B, 1]; stateN = Concat(Y_h, Y_c) [2, B, 16]. "
                   "inputGrads holds x [2, 256] (through the front end) and state [2, 2, 16] (through the "
                   "initial h/c Slices); sr has none (asserted). Checked against the torch module in float64 "
                   "(both outputs, L, the LSTM's weight gradients, both input gradients). No Relu input nor MaxPool "
                   "runner-up lies within 2e-3 of its kink (asserted; finite differences here use e = 5e-4). Runs: sum(prob); mean(prob). "
                   "Ops in the model: %s." % (sr, sr_branch, json.dumps(path), front, ", ".join(ops)),
                   model, feeds,
                   [{"kind": "sum", "output": "prob"}, {"kind": "mean", "output": "prob"}], torch_ref=ref,
                   fd_eps=VAD_FD_EPS, op_kink_min=VAD_KINK_MIN, on_forward=module_outputs_match(make_vad, ref_args, ["prob", "stateN"]),
                   expect=expect_all(expect_paths([(path, None)]), expect_seq_len(name, T),
                                     expect_inputs(name, ["x", "state"], {"x": (B, L), "state": (2, B, VAD_H)}),
                                     differs))


class ChunkedLstm(torch.nn.Module):
    """A sequence processed in chunks, the LSTM state carried from chunk to chunk by a Python loop
    (torch.jit.script'ed: an ONNX Loop); the per-chunk outputs concatenated along time."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 6)
        self.head = torch.nn.Linear(6, 2)

    def forward(self, x, h, c):
        ys = torch.zeros(0, x.shape[2], 6, dtype=x.dtype)
        for i in range(x.shape[0]):
            y, (h, c) = self.lstm(x[i], (h, c))
            ys = torch.cat([ys, y], 0)
        return self.head(ys), h, c


def lstm_in_loop_case():
    name = "lstm_in_loop"
    n, Tc, B, I, H = 4, 3, 2, 3, 6
    rng = np.random.default_rng(2201)
    x, h0, c0 = crnd(rng, n, Tc, B, I, scale=1.0), crnd(rng, 1, B, H), crnd(rng, 1, B, H)
    torch.manual_seed(2202)
    net = ChunkedLstm()
    args = (torch.tensor(x), torch.tensor(h0), torch.tensor(c0))
    model = export_model(net, args, ["x", "h0", "c0"], ["y", "h_n", "c_n"], dynamic_axes={"x": {0: "chunks"}},
                         script=True)
    # the exporter kept the loop: one Loop at the top, the LSTM in its body, no LSTM unrolled
    loops = find_nodes(model.graph, "Loop")
    assert len(loops) == 1 and not find_nodes(model.graph, "LSTM"), [n_.op_type for n_ in model.graph.node]
    body_lstm = find_nodes(branch(loops[0], "body"), "LSTM")
    assert len(body_lstm) == 1, [n_.op_type for n_ in branch(loops[0], "body").node]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "chunks"
    path = [loops[0].name, "body", body_lstm[0].name]
    ops = sorted({n_.op_type for n_ in all_nodes(model.graph)})
    torch.manual_seed(2202)
    ref = make_torch_ref(ChunkedLstm(), args, ["x", "h0", "c0"], ["y", "h_n", "c_n"])

    def make_net():
        torch.manual_seed(2202)
        return ChunkedLstm()

    def across(runs):
        # the carried state links the chunks: the state Jacobian reaches the first chunk, and under
        # 'last' (only the final step of the final chunk read) every chunk gets gradient
        e0 = entry_of(runs[0])
        jn = ld(name, e0["jacobianNorm"]["state"])
        assert jn[0] > 1e-6 * jn[-1], jn
        gh = ld(name, entry_of(runs[1])["gradHidden"])
        assert np.abs(gh[:Tc]).max() > 0 and not np.abs(gh[-1]).max() == 0, gh

    write_case(name,
               "An LSTM inside a Loop body, exported by torch.onnx.export (opset 14) from a torch.jit.script'ed "
               "module: x [chunks=4, 3, B=2, 3] (dim 0 symbolic 'chunks'; the trip count is Shape(x) -> "
               "Gather(0)); the loop carries h, c (initial values the graph inputs h0, c0 [1, B, 6], nonzero) "
               "and ys, the concatenation of the chunks' outputs so far (initial ConstantOfShape [0, B, 6], "
               "body Concat(ys, Squeeze(Y))). Body: Gather(x, iteration_num) -> LSTM(3 -> 6) whose W, R, B are "
               "Unsqueeze(Concat(Slice(top-level Constant))) computed in the body each iteration; its "
               "initial_h/initial_c are the carried h, c and its Y_h/Y_c the new ones. After the loop: "
               "MatMul + Add head on ys -> y [T=12, B, 2]; h_n, c_n. The layer is reported once, path %s, "
               "iterations 4 x stepsPerIteration 3 = T 12: gradHidden/gradCell, jacobianNorm (through the "
               "carried state across iterations: the state each iteration starts from is the previous "
               "iteration's final state, asserted bit for bit, so it equals one LSTM over the concatenated "
               "sequence; also finite-differenced through the whole Loop at the steps next to the iteration "
               "boundaries), inputGradNorm and decay are over the concatenated steps (iteration i, step s -> "
               "t = 3i + s); weightGrads are the sums over the 4 iterations. Checked against the torch module "
               "in float64 (outputs, L, input gradients, and the weight gradients, which torch collects over "
               "all 4 calls). inputGrads: x, h0, c0. Runs: mean(y); 'last' "
               "(y[T-1], time axis 0): every chunk still gets gradient, through the carried state only "
               "(asserted), and the state Jacobian reaches t = 0 (asserted). Ops in the model: %s."
               % (json.dumps(path), ", ".join(ops)),
               model, {"x": x, "h0": h0, "c0": c0},
               [{"kind": "mean", "output": "y"}, {"kind": "last", "output": "y", "timeAxis": 0}], torch_ref=ref,
               fd_full=False, on_forward=module_outputs_match(make_net, args, ["y", "h_n", "c_n"]),
               expect=expect_all(expect_paths([(path, (n, Tc))]), expect_seq_len(name, n * Tc),
                                 expect_inputs(name, ["x", "h0", "c0"]), across))


class StepGru(torch.nn.Module):
    """A GRU run one step at a time over a batch-first sequence (the ONNX form: a Scan)."""

    def __init__(self, I, H):
        super().__init__()
        self.gru = torch.nn.GRU(I, H)
        self.head = torch.nn.Linear(H, 2)

    def forward(self, x, h0):
        h = h0
        ys = []
        for t in range(x.shape[1]):
            y, h = self.gru(x[:, t].unsqueeze(0), h)
            ys.append(y[0])
        return self.head(torch.stack(ys, 1)), h


def gru_in_scan_case():
    name = "gru_in_scan"
    B, T, I, H = 2, 8, 3, 5
    rng = np.random.default_rng(2301)
    x, h0 = crnd(rng, B, T, I, scale=1.0), crnd(rng, 1, B, H)
    torch.manual_seed(2302)
    net = StepGru(I, H)
    rows = lambda t: torch_to_onnx_rows("GRU", t.detach())  # noqa: E731
    W = rows(net.gru.weight_ih_l0).numpy()[None]
    R = rows(net.gru.weight_hh_l0).numpy()[None]
    Bv = torch.cat([rows(net.gru.bias_ih_l0), rows(net.gru.bias_hh_l0)]).numpy()[None]
    head_w = net.head.weight.detach().numpy().T.copy()
    head_b = net.head.bias.detach().numpy().copy()
    body = helper.make_graph(
        [helper.make_node("Constant", [], ["axes_step"], name="axes_step_const",
                          value=numpy_helper.from_array(np.array([0], np.int64), "axes_step_value")),
         helper.make_node("Unsqueeze", ["x_t", "axes_step"], ["x_step"], name="unsqueeze_step"),
         helper.make_node("GRU", ["x_step", "gru_W", "gru_R", "gru_B", "", "h_prev"], ["Y_step", "h_next"],
                          name="gru_step", hidden_size=H, linear_before_reset=1),
         helper.make_node("Constant", [], ["axes_y"], name="axes_y_const",
                          value=numpy_helper.from_array(np.array([0, 1], np.int64), "axes_y_value")),
         helper.make_node("Squeeze", ["Y_step", "axes_y"], ["y_t"], name="squeeze_step")],
        "scan_body", [vi("h_prev", F, [1, B, H]), vi("x_t", F, [B, I])],
        [vi("h_next", F, [1, B, H]), vi("y_t", F, [B, H])])
    nodes = [
        helper.make_node("Scan", ["h0", "x"], ["h_last", "ys"], name="scan_steps", body=body, num_scan_inputs=1,
                         scan_input_axes=[1], scan_output_axes=[1]),
        helper.make_node("MatMul", ["ys", "head_W"], ["head_mm"], name="head_matmul"),
        helper.make_node("Add", ["head_mm", "head_B"], ["y"], name="head_add"),
    ]
    inits = [init("gru_W", W), init("gru_R", R), init("gru_B", Bv), init("head_W", head_w), init("head_B", head_b)]
    model = build(nodes, [vi("x", F, [B, T, I]), vi("h0", F, [1, B, H])],
                  [vi("y", F, [B, T, 2]), vi("h_last", F, [1, B, H])], inits, name)
    torch.manual_seed(2302)
    ref = make_torch_ref(StepGru(I, H), (torch.tensor(x), torch.tensor(h0)), ["x", "h0"], ["y", "h_last"])

    def make_net():
        torch.manual_seed(2302)
        return StepGru(I, H)
    path = ["scan_steps", "body", "gru_step"]

    def across(runs):
        jn = ld(name, entry_of(runs[0])["jacobianNorm"]["state"])
        assert jn.min() > 0, jn

    write_case(name,
               "A GRU node inside a Scan body that runs one time step per iteration (built with onnx.helper; "
               "opset 14): x [B=2, T=8, 3] batch-first, scan_input_axes [1] (the body gets x_t [B, 3]); the "
               "Scan state is h [1, B, 5] (initial value the graph input h0, nonzero). Body: Unsqueeze(x_t, 0) "
               "-> GRU(3 -> 5, linear_before_reset=1, W/R/B outer-scope initializers, initial_h = the state) -> "
               "Y_h is the new state, Squeeze(Y, [0, 1]) [B, 5] the scan output, stacked on scan_output_axes "
               "[1] -> ys [B, T, 5] -> MatMul + Add head -> y [B, T, 2]; h_last is the Scan's final state. The "
               "layer is reported once, path %s, iterations 8 x stepsPerIteration 1 = T 8: every per-step "
               "quantity is over the Scan's iterations; the state passed between iterations is asserted to be "
               "the previous Y_h bit for bit; jacobianNorm is therefore the one of a GRU over the whole sequence "
               "(also finite-differenced through the Scan), nonzero at every step (asserted); weightGrads sum "
               "the 8 iterations. Checked against torch nn.GRU called step by step in float64 (outputs, L, input and "
               "weight gradients). inputGrads: x "
               "[B, T, 3], h0. Runs: sum(y); 'last' on y's time axis 1." % json.dumps(path),
               model, {"x": x, "h0": h0},
               [{"kind": "sum", "output": "y"}, {"kind": "last", "output": "y", "timeAxis": 1}], torch_ref=ref,
               on_forward=module_outputs_match(make_net, (torch.tensor(x), torch.tensor(h0)), ["y", "h_last"]),
               expect=expect_all(expect_paths([(path, (T, 1))]), expect_seq_len(name, T),
                                 expect_inputs(name, ["x", "h0"], {"x": (B, T, I), "h0": (1, B, H)}), across))


class ConvPadLstm(torch.nn.Module):
    """Batch-first audio features [B, C, L] -> Conv1d -> pad -> drop the first frame -> time-major
    -> LSTM -> per-frame score."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(2, 4, 3, stride=2)
        self.lstm = torch.nn.LSTM(4, 5)
        self.head = torch.nn.Linear(5, 1)

    def forward(self, x):
        z = torch.nn.functional.pad(self.conv(x), (2, 1))[:, :, 1:]
        return self.head(self.lstm(z.permute(2, 0, 1))[0])


def lstm_conv_batch_case():
    name = "lstm_conv_batch"
    B, C, L = 2, 2, 22
    T = (L - 3) // 2 + 1 + 3 - 1
    rng = np.random.default_rng(2401)
    x = crnd(rng, B, C, L, scale=1.0)
    torch.manual_seed(2402)
    net = ConvPadLstm()
    model = export_model(net, (torch.tensor(x),), ["audio"], ["y"],
                         dynamic_axes={"audio": {0: "batch", 2: "length"}, "y": {0: "frames", 1: "batch"}})
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", C, "length"], dims
    # the data path from the input: Conv -> Pad -> Slice -> Transpose -> LSTM (each reads the last)
    chain, v = [], "audio"
    while len(chain) < 5:
        nxt = [n_ for n_ in model.graph.node if n_.input and n_.input[0] == v and n_.op_type != "Shape"]
        assert len(nxt) == 1, (v, [n_.op_type for n_ in nxt])
        chain.append(nxt[0].op_type)
        v = nxt[0].output[0]
    assert chain == ["Conv", "Pad", "Slice", "Transpose", "LSTM"], chain
    lstm = find_nodes(model.graph, "LSTM")[0]
    torch.manual_seed(2402)
    ref = make_torch_ref(ConvPadLstm(), (torch.tensor(x),), ["audio"], ["y"])

    def make_net():
        torch.manual_seed(2402)
        return ConvPadLstm()
    write_case(name,
               "Batch-first input for the axis tracer, exported by torch.onnx.export (opset 14) with symbolic "
               "dims: audio [batch, 2, length] (dim_param 'batch' and 'length'; the fixture's file is "
               "[2, 2, %d]) -> Conv (2 -> 4, kernel 3, stride 2) -> Pad (pads computed from constants: "
               "ConstantOfShape / Concat / Reshape / Slice with step -1 / Transpose / Cast, +2 frames before, "
               "+1 after, on axis 2) -> Slice (axis 2, from 1) -> Transpose(2, 0, 1) -> LSTM (4 -> 5; initial "
               "state zeros from Shape -> Gather -> Unsqueeze -> Concat -> ConstantOfShape) -> Squeeze -> MatMul + Add -> y [T, "
               "batch, 1], T = %d frames. An engine generating inputs must find that axis 0 of audio is the "
               "LSTM's batch axis and axis 2 its time axis (through the conv's stride, the pad and the "
               "slice). Checked against the torch module in float64 (output, L, input and weight gradients). "
               "Runs: sum(y); mean(y)." % (L, T),
               model, {"audio": x}, [{"kind": "sum", "output": "y"}, {"kind": "mean", "output": "y"}], torch_ref=ref,
               on_forward=module_outputs_match(make_net, (torch.tensor(x),), ["y"]),
               expect=expect_all(expect_paths([([lstm.name], None)]), expect_seq_len(name, T),
                                 expect_inputs(name, ["audio"], {"audio": (B, C, L)})))


def control_flow_cases():
    vad_cases()
    lstm_in_loop_case()
    gru_in_scan_case()
    lstm_conv_batch_case()


# --------------------------------------------------------------------------------------
# Streaming models (state pairs fed from call to call) and state recurrences (Loop / Scan
# carried values or state pairs whose step is written with plain ops): SPEC v2 section 9.1
# --------------------------------------------------------------------------------------


def make_step_ref(step, feeds_np, input_names, output_names, stream=None, rnn=(), per_call=()):
    """A float64 torch reference run the way the contract runs the model, checked against the
    interpreter's numbers (write_case calls it with the outputs and state layers too).

    step(args) -> (outputs tuple, steps): one call of the float64 module / function; steps holds,
    per recurrence step of this call, {"state": [tensors [B, Hk] in the state layer's flattening
    order, as computed (their grads are gradHidden)], "gates": {gate: [B, Hc]}}. stream: the
    case's {"calls", "state"} (None: one call); per_call: the inputs fed one slice per call.
    feeds_np holds every input the model gets (a state left at zeros included). rnn: per recurrent
    node in trace order, (node name, op, getter() -> torch's W_ih, W_hh, b_ih, b_hh): their grads
    must equal weightGrads (summed over calls by autograd)."""
    N = stream["calls"] if stream else 1
    pairs = stream["state"] if stream else []
    scfg = {"calls": N} if stream else None

    def ref(obj, tgt_t, Lval, wgrads, igrads, outs_np, sdata):
        leaves = {}
        for k in input_names:
            v = torch.tensor(np.asarray(feeds_np[k]))
            leaves[k] = v.double().requires_grad_(True) if v.is_floating_point() else v
        for _, _, get in rnn:
            for prm in get():
                prm.grad = None
        cur = {a: leaves[a] for a, _ in pairs}
        outs_all = {o: [] for o in output_names}
        steps_all = []
        for n in range(N):
            args = [cur[k] if k in cur else leaves[k][n] if k in per_call else leaves[k] for k in input_names]
            outs, steps = step(args)
            for st in steps:
                for tns in st["state"]:
                    tns.retain_grad()
            steps_all += steps
            for o, v in zip(output_names, outs):
                outs_all[o].append(v)
            for a, b in pairs:
                cur[a] = outs[output_names.index(b)]
        env = {o: torch.stack(v) if stream else v[0] for o, v in outs_all.items()}
        for o, v in env.items():
            ref_o = v.detach().numpy()
            err = float(np.max(np.abs(outs_np[o] - ref_o))) / max(1.0, float(np.max(np.abs(ref_o))))
            assert outs_np[o].shape == ref_o.shape and err < 1e-12, (o, err)
        L = objective_of(obj, env, tgt_t, scfg)
        L.backward()
        worst = abs(float(L) - Lval) / max(1.0, abs(Lval))
        for k, a in leaves.items():
            g = a.grad if a.is_floating_point() else None
            assert (g is None) == (k not in igrads), (k, g is None)
            if g is not None:
                worst = max(worst, float(np.max(np.abs(igrads[k] - g.numpy()))) / max(1.0, float(np.max(np.abs(igrads[k])))))
        for nname, op, get in rnn:
            W, R, bi, bh = get()
            gB = torch.cat([torch_to_onnx_rows(op, bi.grad), torch_to_onnx_rows(op, bh.grad)]).numpy()
            for key, g in (("W", torch_to_onnx_rows(op, W.grad).numpy()), ("R", torch_to_onnx_rows(op, R.grad).numpy()),
                           ("B", gB)):
                mine = wgrads[(nname, 0, key)]
                worst = max(worst, float(np.max(np.abs(mine - g))) / max(1.0, float(np.max(np.abs(mine)))))
        assert len(sdata) == (1 if steps_all else 0), len(sdata)
        if steps_all:
            s = sdata[0]
            gh = np.stack([torch.cat([t.grad if t.grad is not None else torch.zeros_like(t) for t in st["state"]],
                                     1).numpy() for st in steps_all])
            hid = np.stack([torch.cat(st["state"], 1).detach().numpy() for st in steps_all])
            assert gh.shape == s["gradHidden"].shape and hid.shape == s["hidden"].shape, (gh.shape, hid.shape)
            worst = max(worst, float(np.max(np.abs(gh - s["gradHidden"]))) / max(1.0, float(np.max(np.abs(gh)))))
            worst = max(worst, float(np.max(np.abs(hid - s["hidden"]))) / max(1.0, float(np.max(np.abs(hid)))))
            assert sorted(s["gates"]) == sorted(steps_all[0]["gates"]), (sorted(s["gates"]), sorted(steps_all[0]["gates"]))
            for gname, arr in s["gates"].items():
                mod = np.stack([st["gates"][gname].detach().numpy() for st in steps_all])
                worst = max(worst, float(np.max(np.abs(mod - arr))))
        assert worst < 1e-10, worst
        return worst

    ref.extended = True
    return ref


def expect_state_layer(case, node, path, T, vars_, gates=None, index=0):
    """layers[index] is the state layer: node, path, T x 1, stateVars, the files' shapes, gates."""
    def check(runs):
        for r in runs:
            L_ = r["layers"][index]
            assert (L_["node"], L_["op"], L_["path"], L_["iterations"], L_["stepsPerIteration"]) == \
                (node, "state", path, T, 1), L_
            assert L_["stateVars"] == vars_, L_["stateVars"]
            assert len(L_["directions"]) == 1
            e = L_["directions"][0]
            assert "weightGrads" not in e and "inputGradNorm" not in e and "decayPaths" not in e, e.keys()
            B_ = {v["shape"][v["batchAxis"]] if v["batchAxis"] is not None else 1 for v in vars_}
            assert len(B_) == 1
            Bn = B_.pop()
            H = sum(int(np.prod(v["shape"])) // Bn for v in vars_)
            for f in (e["hidden"], e["gradHidden"]):
                assert ld(case, f).shape == (T, Bn, H), (f, ld(case, f).shape)
            jn = ld(case, e["jacobianNorm"]["state"])
            assert np.array_equal(jn, ld(case, e["jacobianNorm"]["hidden"])) and jn.shape == (T,)
            assert abs(jn[-1] - math.sqrt(Bn * H)) < 1e-12 and jn.min() > 0, jn
            assert sorted(e.get("gates", {})) == sorted(gates or []), e.get("gates")
            for g in (gates or []):
                arr = ld(case, e["gates"][g])
                assert arr.shape[:2] == (T, Bn), (g, arr.shape)
            assert r["clipping"]["globalNorm"] > 0 or all(f == 1.0 for f in r["clipping"]["factors"].values())
    return check


def audio_chunks(rng, N, B, L):
    """N consecutive chunks [N, B, L] of a few sinusoids per batch element plus noise (float32)."""
    t = np.arange(N * L) / 16000.0
    x = np.zeros((B, N * L))
    for b in range(B):
        for _ in range(3):
            x[b] += rng.uniform(0.2, 0.5) * np.sin(2 * np.pi * rng.uniform(300, 3000) * t + rng.uniform(0, 6.3))
    x += 0.05 * rng.standard_normal((B, N * L))
    return np.ascontiguousarray(x.reshape(B, N, L).transpose(1, 0, 2)).astype(np.float32)


STREAM_H = 8


class StreamFront(torch.nn.Module):
    """An STFT-like front end for one audio chunk [B, 48]: a strided Conv1d per sample rate (an If
    on sr), magnitudes of its (re, im) channel pairs, the mean over frames -> [B, 4]."""

    def __init__(self):
        super().__init__()
        self.enc16 = torch.nn.Conv1d(1, 8, 16, stride=8)
        self.enc8 = torch.nn.Conv1d(1, 8, 8, stride=4)

    def forward(self, x, sr):
        if bool(sr == 16000):
            z = self.enc16(x.unsqueeze(1))
        else:
            z = self.enc8(x.unsqueeze(1))
        re = z[:, :4]
        im = z[:, 4:]
        return torch.sqrt(re * re + im * im + 0.0009765625).mean(2)


class StreamCell(torch.nn.Module):
    """A streaming detector called once per chunk: front end, nn.LSTMCell(4, 8) whose state is
    one tensor [2, B, 8] (h and c stacked), a kernel-1 Conv1d head, Sigmoid, mean -> prob [B, 1]."""

    def __init__(self):
        super().__init__()
        self.front = StreamFront()
        self.cell = torch.nn.LSTMCell(4, STREAM_H)
        self.head = torch.nn.Conv1d(STREAM_H, 1, 1)

    def step(self, f, h0, c0):
        h, c = self.cell(f, (h0, c0))
        return h, c

    def head_of(self, h):
        return torch.sigmoid(self.head(h.unsqueeze(2))).mean(2)

    def forward(self, x, sr, state):
        h, c = self.step(self.front(x, sr), state[0], state[1])
        return self.head_of(h), torch.stack([h, c], 0)


class StreamHandCell(StreamCell):
    """StreamCell with the LSTM cell written with plain ops (same parameters: the LSTMCell's)."""

    def cell_parts(self, f, h0, c0):
        a = torch.addmm(self.cell.bias_ih, f, self.cell.weight_ih.t()) + \
            torch.addmm(self.cell.bias_hh, h0, self.cell.weight_hh.t())
        i, fg, g, o = a.split(8, 1)
        i = torch.sigmoid(i)
        fg = torch.sigmoid(fg)
        g = torch.tanh(g)
        o = torch.sigmoid(o)
        c = fg * c0 + i * g
        h = o * torch.tanh(c)
        return h, c, i, fg, g, o

    def step(self, f, h0, c0):
        h, c, i, fg, g, o = self.cell_parts(f, h0, c0)
        return h, c


STREAM_SEED = 3101


def stream_vad_inputs():
    N, B, L = 6, 2, 48
    rng = np.random.default_rng(3102)
    x = audio_chunks(rng, N, B, L)
    state = crnd(rng, 2, B, STREAM_H, scale=0.5)
    return x, np.array(16000, np.int64), state


def stream_vad_export(cls):
    torch.manual_seed(STREAM_SEED)
    net = cls()
    x, sr, state = stream_vad_inputs()
    args = (torch.tensor(x[0]), torch.tensor(sr), torch.tensor(state))
    return export_model(net, args, ["x", "sr", "state"], ["prob", "stateN"],
                        dynamic_axes={"x": {0: "batch"}, "state": {1: "batch"}, "prob": {0: "batch"},
                                      "stateN": {1: "batch"}}, script=True)


def stream_lstmcell_if_case():
    name = "stream_lstmcell_if"
    N, B, H = 6, 2, STREAM_H
    x, sr, state = stream_vad_inputs()
    model = stream_vad_export(StreamCell)
    # the exported structure: an If on sr at the top (a Conv per branch), one LSTM node (the cell,
    # T = 1) at the top whose initial_h / initial_c come from `state` (Gather, Unsqueeze)
    ifs = find_nodes(model.graph, "If")
    lstms = find_nodes(model.graph, "LSTM")
    assert len(ifs) == 1 and len(lstms) == 1, [n_.op_type for n_ in model.graph.node]
    for br in ("then_branch", "else_branch"):
        assert [n_.op_type for n_ in branch(ifs[0], br).node if n_.op_type == "Conv"] == ["Conv"], br
    assert flows_into_initial_state(model.graph, "state")
    lstm = lstms[0]
    ops = sorted({n_.op_type for n_ in all_nodes(model.graph)})
    torch.manual_seed(STREAM_SEED)
    m64 = StreamCell().double().eval()

    def step(args):
        xx, ss, st = args
        h, c = m64.step(m64.front(xx, ss), st[0], st[1])
        return (m64.head_of(h), torch.stack([h, c], 0)), []

    stream = {"calls": N, "state": [["state", "stateN"]]}
    cell = m64.cell
    ref = make_step_ref(step, {"x": x, "sr": sr, "state": state}, ["x", "sr", "state"], ["prob", "stateN"], stream,
                        rnn=[(lstm.name, "LSTM", lambda: (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))],
                        per_call={"x"})

    def across(runs):
        # 'last' reads only the last call's prob: every earlier call gets gradient through the state
        gh = ld(name, entry_of(runs[1])["gradHidden"])
        assert all(np.abs(gh[t]).max() > 0 for t in range(N)), gh
        gx = ld(name, runs[1]["inputGrads"]["x"])
        assert all(np.abs(gx[n_]).max() > 0 for n_ in range(N)), "every chunk reaches the last call"

    write_case(name,
               "Streaming model called once per audio chunk (SPEC v2 9.1), exported by torch.onnx.export (opset "
               "14) from a torch.jit.script'ed module (dynamic batch): inputs x [B=2, 48] float chunk, sr int64 "
               "scalar, state [2, B, 8] float (h and c stacked); outputs prob [B, 1] and stateN [2, B, 8]. An "
               "If on sr (Equal(sr, 16000) -> Cast) selects the encoder: then_branch Conv (1 -> 8, kernel 16, "
               "stride 8), else_branch Conv (1 -> 8, kernel 8, stride 4); then magnitudes sqrt(re^2 + im^2 + "
               "2^-10) of channel pairs (Slice, Mul, Add, Sqrt) and ReduceMean over frames -> [B, 4] -> "
               "nn.LSTMCell(4, 8), exported as one LSTM node %s (T = 1 per call) whose initial_h / initial_c are "
               "Gather(state, 0 / 1) -> Unsqueeze, Y_h / Y_c -> Squeeze -> Unsqueeze + Concat = stateN; head "
               "Unsqueeze -> Conv (8 -> 1, kernel 1) -> Sigmoid -> ReduceMean -> prob. calls = 6, state pair "
               "state -> stateN: the model runs 6 times, each call's stateN fed to the next call's state (the "
               "initial state input_state.npy, nonzero). input_x.npy [6, 2, 48] holds one chunk per call "
               "(consecutive pieces of one signal); input_sr.npy (0-d int64 16000) is fed to every call, "
               "so the then_branch runs every time. outputs: prob [6, B, 1], stateN [6, 2, B, 8] (per call, "
               "stacked). The LSTM is reported like a layer in a Loop: path %s, iterations 6 x "
               "stepsPerIteration 1 = T 6 (t = the call), gradients and Jacobians across calls through the state "
               "pair (the state each call starts from is the previous call's final state, asserted bit for bit; "
               "the state Jacobian is also finite-differenced through the 6 calls). inputGrads: x [6, 2, 48] "
               "(each chunk's own gradient), state [2, B, 8] (the initial state); sr none. Checked against the "
               "torch module run 6 times in float64 (outputs, L, input gradients, the LSTMCell's weight "
               "gradients summed over calls). Runs: sum(prob) = sum over calls; last(prob) = sum of the last "
               "call's prob (no time axis), whose gradient reaches every call (asserted). Ops in the model: %s."
               % (lstm.name, json.dumps([lstm.name]), ", ".join(ops)),
               model, {"x": x, "sr": sr, "state": state},
               [{"kind": "sum", "output": "prob"}, {"kind": "last", "output": "prob"}], torch_ref=ref, stream=stream,
               expect=expect_all(expect_paths([([lstm.name], (N, 1))]), expect_seq_len(name, N),
                                 expect_inputs(name, ["x", "state"], {"x": (N, B, 48), "state": (2, B, H)}), across))


def stream_handcell_case():
    name, other = "stream_handcell", "stream_lstmcell_if"
    N, B, H = 6, 2, STREAM_H
    x, sr, state = stream_vad_inputs()
    model = stream_vad_export(StreamHandCell)
    assert not [n_ for n_ in all_nodes(model.graph) if n_.op_type in RECURRENT]
    # the cell: Gemm (x) + Gemm (h) -> Add -> Split into 4 -> Sigmoid / Tanh (torch order i, f, g, o)
    splits = [n_ for n_ in model.graph.node if n_.op_type == "Split"]
    assert len(splits) == 1 and len(splits[0].output) == 4, splits
    add = next(n_ for n_ in model.graph.node if splits[0].input[0] in n_.output)
    assert add.op_type == "Add" and [next(p for p in model.graph.node if i in p.output).op_type
                                     for i in add.input] == ["Gemm", "Gemm"], add
    acts = []
    for o in splits[0].output:
        users = [n_ for n_ in model.graph.node if o in n_.input]
        assert len(users) == 1 and users[0].op_type in ("Sigmoid", "Tanh"), users
        acts.append(users[0])
    assert [a.op_type for a in acts] == ["Sigmoid", "Sigmoid", "Tanh", "Sigmoid"], acts
    gates = dict(zip(("input", "forget", "cell", "output"), (a.output[0] for a in acts)))
    ops = sorted({n_.op_type for n_ in all_nodes(model.graph)})
    torch.manual_seed(STREAM_SEED)
    m64 = StreamHandCell().double().eval()

    def step(args):
        xx, ss, st = args
        h, c, i, fg, g, o = m64.cell_parts(m64.front(xx, ss), st[0], st[1])
        return (m64.head_of(h), torch.stack([h, c], 0)), \
            [{"state": [h, c], "gates": {"input": i, "forget": fg, "cell": g, "output": o}}]

    stream = {"calls": N, "state": [["state", "stateN"]]}
    ref = make_step_ref(step, {"x": x, "sr": sr, "state": state}, ["x", "sr", "state"], ["prob", "stateN"], stream,
                        per_call={"x"})
    svars = [{"name": "state", "shape": [2, B, H], "batchAxis": 1}]

    def same_recurrence(runs):
        # the same model with the cell as an LSTM node: the same state Jacobian, and gradHidden is
        # (dL/dh_t, dL/dc_t) of that LSTM (c perturbed where it is produced moves h = o tanh(c))
        with open(os.path.join(OUT, other, "case.json")) as fh:
            a = json.load(fh)
        assert len(a["runs"]) == len(runs)
        e0 = entry_of(runs[0])
        ja, jb = ld(other, entry_of(a["runs"][0])["jacobianNorm"]["state"]), ld(name, e0["jacobianNorm"]["state"])
        assert np.allclose(jb, ja, rtol=1e-12, atol=0), (ja, jb)
        for ra, rb in zip(a["runs"], runs):
            assert ra["objective"] == rb["objective"] and abs(ra["value"] - rb["value"]) <= 1e-14 * abs(ra["value"])
            ea, eb = entry_of(ra), entry_of(rb)
            gh = ld(name, eb["gradHidden"])
            for half, ref_ in ((gh[:, :, :H], ld(other, ea["gradHidden"])), (gh[:, :, H:], ld(other, ea["gradCell"]))):
                assert np.allclose(half, ref_, rtol=1e-11, atol=1e-14 * float(np.abs(ref_).max())), \
                    float(np.abs(half - ref_).max())
            assert eb["decay"]["verdict"] == ea["decay"]["verdict"], (ea["decay"], eb["decay"])
            for k in rb["inputGrads"]:
                ga, gb = ld(other, ra["inputGrads"][k]), ld(name, rb["inputGrads"][k])
                assert np.allclose(gb, ga, rtol=1e-11, atol=1e-14 * float(np.abs(ga).max())), k
        # hidden = case a's stateN output, [N, 2, B, H] -> [N, B, 2H]
        sN = ld(other, "output_stateN.npy")
        hid = ld(name, e0["hidden"])
        assert np.allclose(hid, sN.transpose(0, 2, 1, 3).reshape(N, B, 2 * H), rtol=1e-13, atol=1e-15)

    write_case(name,
               "stream_lstmcell_if with the LSTM cell written with plain ops (same module, same parameters, same "
               "inputs, calls = 6, state pair state -> stateN): Gemm(f, W_ih, b_ih, transB) + Gemm(h, W_hh, b_hh, "
               "transB) -> Add -> Split into 4 (torch order i, f, g, o) -> Sigmoid, Sigmoid, Tanh, Sigmoid; "
               "c' = f * c + i * g (Mul, Mul, Add), h' = o * tanh(c') (Tanh, Mul); h = Gather(state, 0), c = "
               "Gather(state, 1); stateN = Concat(Unsqueeze(h'), Unsqueeze(c')). No LSTM node: the state pair "
               "is a state recurrence, reported as one layer (after the op layers: here the only one) with op "
               "'state', node 'state' (the state input), path [\"state\"], iterations 6 x stepsPerIteration 1, "
               "stateVars [{name state, shape [2, 2, 8], batchAxis 1}]: hidden and gradHidden [T=6, B=2, 16] "
               "(index k*8 + j: k = 0 h, k = 1 c). gradHidden[t] is dL/d(h'_t, c'_t) where stateN is "
               "assembled from them (Concat / Unsqueeze traced back): every consumer sees the perturbation, "
               "the head reading h' and, for c', h' = o tanh(c'); it equals stream_lstmcell_if's gradHidden "
               "(h half) and gradCell (c half) to float64 rounding (asserted), and the torch module's dL/dh', "
               "dL/dc' (checked). jacobianNorm.state (= hidden) is the state Jacobian d s_5 / d s_t through the "
               "calls (the carried state perturbed after step t: nothing of call t moves), sqrt(B * 16) at t = "
               "5, equal to stream_lstmcell_if's LSTM jacobianNorm.state to float64 rounding (asserted; also "
               "finite-differenced through the calls). gates input, forget, output, cell [6, B, 8]: the "
               "Sigmoid / Tanh outputs (checked against the module). hidden equals stream_lstmcell_if's stateN "
               "output rearranged (asserted). No weightGrads: clipping.globalNorm is 0, factors 1. "
               "inputGrads: x [6, 2, 48], state [2, B, 8]. Runs: sum(prob); last(prob). Ops in the model: %s."
               % ", ".join(ops),
               model, {"x": x, "sr": sr, "state": state},
               [{"kind": "sum", "output": "prob"}, {"kind": "last", "output": "prob"}], torch_ref=ref, stream=stream,
               state_batch={"state": 1}, state_gates={"state": gates},
               expect=expect_all(expect_state_layer(name, "state", ["state"], N, svars,
                                                    ["input", "forget", "output", "cell"]),
                                 expect_inputs(name, ["x", "state"], {"x": (N, B, 48), "state": (2, B, H)}),
                                 same_recurrence))


class StreamLstm(torch.nn.Module):
    """Older-style streaming model: h, c in and hn, cn out as separate tensors."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 5)
        self.head = torch.nn.Linear(5, 2)

    def forward(self, x, h, c):
        y, (hn, cn) = self.lstm(x, (h, c))
        return self.head(y), hn, cn


def stream_hn_cn_case():
    name = "stream_hn_cn"
    N, Tc, B, I, H = 5, 4, 2, 3, 5
    rng = np.random.default_rng(3201)
    x = crnd(rng, N, Tc, B, I, scale=1.0)
    torch.manual_seed(3202)
    net = StreamLstm()
    model = export_model(net, (torch.tensor(x[0]), torch.zeros(1, B, H), torch.zeros(1, B, H)), ["x", "h", "c"],
                         ["y", "hn", "cn"])
    lstms = find_nodes(model.graph, "LSTM")
    assert len(lstms) == 1 and list(lstms[0].input[5:7]) == ["h", "c"] and list(lstms[0].output[1:]) == ["hn", "cn"]
    lstm = lstms[0]
    torch.manual_seed(3202)
    m64 = StreamLstm().double().eval()

    def step(args):
        return m64(*args), []

    stream = {"calls": N, "state": [["h", "hn"], ["c", "cn"]]}
    zeros = np.zeros((1, B, H), np.float32)
    mod = m64.lstm
    ref = make_step_ref(step, {"x": x, "h": zeros, "c": zeros}, ["x", "h", "c"], ["y", "hn", "cn"], stream,
                        rnn=[(lstm.name, "LSTM", lambda: (mod.weight_ih_l0, mod.weight_hh_l0, mod.bias_ih_l0,
                                                          mod.bias_hh_l0))], per_call={"x"})

    def zero_start(runs):
        assert sorted(f for f in os.listdir(os.path.join(OUT, name)) if f.startswith("input_")) == ["input_x.npy"]
        for r in runs:  # the zero initial state still has a gradient
            assert np.abs(ld(name, r["inputGrads"]["h"])).max() > 0 and np.abs(ld(name, r["inputGrads"]["c"])).max() > 0

    write_case(name,
               "Older-style streaming model (SPEC v2 9.1) exported by torch.onnx.export (opset 14, traced): "
               "nn.LSTM(3, 5) with separate state inputs h, c [1, B=2, 5] and outputs hn, cn (the LSTM node's "
               "initial_h / initial_c and Y_h / Y_c directly), x [T=4, B, 3] per call, head Linear(5, 2) "
               "(MatMul + Add) -> y [4, B, 2]. calls = 5, state pairs h -> hn, c -> cn; the initial state is NOT "
               "given (inputs holds only x, input_x.npy [5, 4, 2, 3], one slice per call): h and c start at "
               "zeros (their shapes are static). outputs: y [5, 4, B, 2], hn / cn [5, 1, B, 5] (per call, "
               "stacked). The LSTM %s is reported like a layer in a Loop: path %s, iterations 5 x "
               "stepsPerIteration 4 = T 20 (call n, step s -> t = 4n + s), gradients and Jacobians across "
               "calls through the state pairs (plumbing asserted bit for bit; the state Jacobian also "
               "finite-differenced through the calls), weightGrads summed over calls. inputGrads: x [5, 4, 2, "
               "3] (per call), h, c [1, B, 5] (the gradient at the zero initial state, nonzero: asserted). "
               "Checked against the torch module run 5 times in float64 (outputs, L, input and weight "
               "gradients). Runs: mean(y) = sum over calls of the per-call mean; last(y), time axis 0 of the "
               "per-call y: the sum of y[T-1] of the last call." % (lstm.name, json.dumps([lstm.name])),
               model, {"x": x},
               [{"kind": "mean", "output": "y"}, {"kind": "last", "output": "y", "timeAxis": 0}], torch_ref=ref,
               stream=stream,
               expect=expect_all(expect_paths([([lstm.name], (N, Tc))]), expect_seq_len(name, N * Tc),
                                 expect_inputs(name, ["x", "h", "c"], {"x": (N, Tc, B, I), "h": (1, B, H),
                                                                       "c": (1, B, H)}), zero_start))


def keras_loop_lstm_case():
    name = "keras_loop_lstm"
    B, T, I, H = 2, 7, 3, 5
    rng = np.random.default_rng(3301)
    kernel = crnd(rng, I, 4 * H, scale=0.6)
    rkernel = crnd(rng, H, 4 * H, scale=0.5)
    bias = crnd(rng, 4 * H, scale=0.2)
    bias[H: 2 * H] += 4.0  # forget gates ~0.98: a long-memory cell (Keras gate order i, f, c, o)
    dense_w, dense_b = crnd(rng, H, 2, scale=0.7), crnd(rng, 2, scale=0.1)
    x, h0, c0 = crnd(rng, B, T, I, scale=1.0), crnd(rng, B, H), crnd(rng, B, H)

    def c64(name_, arr):
        return helper.make_node("Constant", [], [name_], name=name_ + "_const",
                                value=numpy_helper.from_array(arr, name_ + "_value"))

    body = helper.make_graph(
        [helper.make_node("Gather", ["x", "iter"], ["x_t"], name="gather_step", axis=1),
         helper.make_node("MatMul", ["x_t", "kernel"], ["xw"], name="matmul_x"),
         helper.make_node("MatMul", ["h_prev", "recurrent_kernel"], ["hr"], name="matmul_h"),
         helper.make_node("Add", ["xw", "hr"], ["xh"], name="add_xh"),
         helper.make_node("Add", ["xh", "bias"], ["pre"], name="add_bias"),
         helper.make_node("Split", ["pre", "gate_sizes"], ["pre_i", "pre_f", "pre_c", "pre_o"], name="split_gates",
                          axis=1),
         helper.make_node("Sigmoid", ["pre_i"], ["gate_i"], name="sigmoid_i"),
         helper.make_node("Sigmoid", ["pre_f"], ["gate_f"], name="sigmoid_f"),
         helper.make_node("Tanh", ["pre_c"], ["gate_c"], name="tanh_c"),
         helper.make_node("Sigmoid", ["pre_o"], ["gate_o"], name="sigmoid_o"),
         helper.make_node("Mul", ["gate_f", "c_prev"], ["fc"], name="mul_fc"),
         helper.make_node("Mul", ["gate_i", "gate_c"], ["ig"], name="mul_ig"),
         helper.make_node("Add", ["fc", "ig"], ["c_new"], name="add_c"),
         helper.make_node("Tanh", ["c_new"], ["c_tanh"], name="tanh_cell"),
         helper.make_node("Mul", ["gate_o", "c_tanh"], ["h_new"], name="mul_h"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="cond_identity"),
         helper.make_node("Identity", ["h_new"], ["h_seq"], name="h_seq_identity")],
        "keras_lstm_body",
        [vi("iter", I64, []), vi("cond_in", TensorProto.BOOL, []), vi("h_prev", F, [B, H]), vi("c_prev", F, [B, H])],
        [vi("cond_out", TensorProto.BOOL, []), vi("h_new", F, [B, H]), vi("c_new", F, [B, H]), vi("h_seq", F, [B, H])])
    nodes = [
        helper.make_node("Shape", ["x"], ["x_shape"], name="shape_x"),
        c64("time_axis", np.array(1, np.int64)),
        helper.make_node("Gather", ["x_shape", "time_axis"], ["trip_count"], name="gather_time"),
        c64("loop_cond", np.array(True)),
        helper.make_node("Loop", ["trip_count", "loop_cond", "h0", "c0"], ["h_T", "c_T", "hs"], name="lstm_loop",
                         body=body),
        helper.make_node("Transpose", ["hs"], ["hs_bf"], name="batch_first", perm=[1, 0, 2]),
        helper.make_node("MatMul", ["hs_bf", "dense_W"], ["dense_mm"], name="dense_matmul"),
        helper.make_node("Add", ["dense_mm", "dense_B"], ["y"], name="dense_add"),
    ]
    inits = [init("kernel", kernel), init("recurrent_kernel", rkernel), init("bias", bias),
             init("gate_sizes", np.array([H] * 4, np.int64)), init("dense_W", dense_w), init("dense_B", dense_b)]
    model = build(nodes, [vi("x", F, [B, T, I]), vi("h0", F, [B, H]), vi("c0", F, [B, H])], [vi("y", F, [B, T, 2])],
                  inits, name)
    w64 = {k: torch.tensor(v.astype(np.float64)) for k, v in
           (("W", kernel), ("R", rkernel), ("b", bias), ("Wd", dense_w), ("bd", dense_b))}

    def step(args):
        xx, h, c = args
        steps, hs = [], []
        for t in range(T):
            i, f, g, o = (xx[:, t] @ w64["W"] + h @ w64["R"] + w64["b"]).split(H, 1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            steps.append({"state": [h, c], "gates": {"input": i, "forget": f, "cell": g, "output": o}})
            hs.append(h)
        return (torch.stack(hs, 1) @ w64["Wd"] + w64["bd"],), steps

    ref = make_step_ref(step, {"x": x, "h0": h0, "c0": c0}, ["x", "h0", "c0"], ["y"])
    node = "h_prev+c_prev"
    path = ["lstm_loop", "body", node]
    svars = [{"name": "h_prev", "shape": [B, H], "batchAxis": 0}, {"name": "c_prev", "shape": [B, H], "batchAxis": 0}]
    write_case(name,
               "An unfused Keras LSTM the way tf2onnx writes one (built with onnx.helper, opset 14): x [B=2, T=7, "
               "3] batch-first, h0, c0 [B, 5] graph inputs (nonzero). Trip count Shape(x) -> Gather(1) = 7, "
               "cond a Constant true; Loop lstm_loop carries h_prev, c_prev (initial h0, c0). Body: x_t = "
               "Gather(x, iter, axis 1) [B, 3]; MatMul(x_t, kernel [3, 20]) + MatMul(h_prev, recurrent_kernel "
               "[5, 20]) -> Add -> Add bias -> Split into 4 (Keras order i, f, c, o) -> Sigmoid, Sigmoid, Tanh, "
               "Sigmoid (forget bias about +4: f ~ 0.98); c_new = f * c_prev + i * g, h_new = o * tanh(c_new); body "
               "outputs cond (Identity), "
               "h_new, c_new, and h_seq = Identity(h_new) as the scan output -> hs [7, B, 5] -> Transpose(1, 0, "
               "2) -> MatMul + Add (Dense 5 -> 2) -> y [B, 7, 2]. No recurrent op: the two carried values form "
               "one state layer, op 'state', node %s (the body input names joined with '+'), path %s, "
               "iterations 7 x stepsPerIteration 1, stateVars h_prev, c_prev [2, 5] batchAxis 0: hidden / "
               "gradHidden [T=7, B, 10] (h then c). gradHidden[t] = dL/d(h_new, c_new) of iteration t, every "
               "path (the scan output, the next iteration; h_new = o tanh(c_new) moves with c_new); "
               "jacobianNorm.state (= hidden) perturbs the carried values leaving iteration t (nothing of "
               "iteration t moves), sqrt(B * 10) at t = 6, finite-differenced through the Loop; carried by the "
               "cells it holds (survival ~0.8): decay verdict stable (asserted); gates input, "
               "forget, output, cell [7, B, 5]. Checked against the same computation written in torch (float64: "
               "outputs, L, input gradients, gradHidden, hidden, gates). No weightGrads (clipping.globalNorm 0, "
               "factors 1). inputGrads: x, h0, c0. Runs: mean(y); last(y) on time axis 1." % (node, json.dumps(path)),
               model, {"x": x, "h0": h0, "c0": c0},
               [{"kind": "mean", "output": "y"}, {"kind": "last", "output": "y", "timeAxis": 1}], torch_ref=ref,
               state_batch={"h_prev": 0, "c_prev": 0},
               state_gates={node: {"input": "gate_i", "forget": "gate_f", "cell": "gate_c", "output": "gate_o"}},
               expect=expect_all(expect_state_layer(name, node, path, T, svars, ["input", "forget", "output", "cell"]),
                                 expect_decay("stable"),
                                 expect_inputs(name, ["x", "h0", "c0"], {"x": (B, T, I), "h0": (B, H), "c0": (B, H)})))


def gru_like_scan_case():
    name = "gru_like_scan"
    T, B, I, H = 9, 2, 4, 6
    rng = np.random.default_rng(3401)
    W = crnd(rng, I, 3 * H, scale=0.6)
    U = crnd(rng, H, 2 * H, scale=0.5)
    Un = crnd(rng, H, H, scale=0.5)
    bz, br, bn = crnd(rng, H, scale=0.2), crnd(rng, H, scale=0.2), crnd(rng, H, scale=0.2)
    Wo, bo = crnd(rng, H, 2, scale=0.7), crnd(rng, 2, scale=0.1)
    x, h0 = crnd(rng, T, B, I, scale=1.0), crnd(rng, B, H)
    body = helper.make_graph(
        [helper.make_node("MatMul", ["x_t", "W_x"], ["xw"], name="matmul_x"),
         helper.make_node("Split", ["xw", "split3"], ["x_z", "x_r", "x_n"], name="split_x", axis=1),
         helper.make_node("MatMul", ["h_prev", "U_zr"], ["hu"], name="matmul_h"),
         helper.make_node("Split", ["hu", "split2"], ["h_z", "h_r"], name="split_h", axis=1),
         helper.make_node("Add", ["x_z", "h_z"], ["z_xh"], name="add_z"),
         helper.make_node("Add", ["z_xh", "b_z"], ["z_pre"], name="add_bz"),
         helper.make_node("Sigmoid", ["z_pre"], ["gate_z"], name="sigmoid_z"),
         helper.make_node("Add", ["x_r", "h_r"], ["r_xh"], name="add_r"),
         helper.make_node("Add", ["r_xh", "b_r"], ["r_pre"], name="add_br"),
         helper.make_node("Sigmoid", ["r_pre"], ["gate_r"], name="sigmoid_r"),
         helper.make_node("Mul", ["gate_r", "h_prev"], ["rh"], name="mul_rh"),
         helper.make_node("MatMul", ["rh", "U_n"], ["rh_u"], name="matmul_rh"),
         helper.make_node("Add", ["x_n", "rh_u"], ["n_xh"], name="add_n"),
         helper.make_node("Add", ["n_xh", "b_n"], ["n_pre"], name="add_bn"),
         helper.make_node("Tanh", ["n_pre"], ["cand_n"], name="tanh_n"),
         helper.make_node("Sub", ["one", "gate_z"], ["one_minus_z"], name="sub_z"),
         helper.make_node("Mul", ["one_minus_z", "cand_n"], ["keep_n"], name="mul_n"),
         helper.make_node("Mul", ["gate_z", "h_prev"], ["keep_h"], name="mul_h"),
         helper.make_node("Add", ["keep_n", "keep_h"], ["h_next"], name="add_h"),
         helper.make_node("Identity", ["h_next"], ["y_t"], name="y_identity")],
        "gru_like_body", [vi("h_prev", F, [B, H]), vi("x_t", F, [B, I])], [vi("h_next", F, [B, H]), vi("y_t", F, [B, H])])
    nodes = [
        helper.make_node("Scan", ["h0", "x"], ["h_last", "hs"], name="gru_scan", body=body, num_scan_inputs=1),
        helper.make_node("MatMul", ["hs", "W_out"], ["out_mm"], name="out_matmul"),
        helper.make_node("Add", ["out_mm", "b_out"], ["y"], name="out_add"),
    ]
    inits = [init("W_x", W), init("U_zr", U), init("U_n", Un), init("b_z", bz), init("b_r", br), init("b_n", bn),
             init("one", np.array(1.0, np.float32)), init("split3", np.array([H] * 3, np.int64)),
             init("split2", np.array([H] * 2, np.int64)), init("W_out", Wo), init("b_out", bo)]
    model = build(nodes, [vi("x", F, [T, B, I]), vi("h0", F, [B, H])],
                  [vi("y", F, [T, B, 2]), vi("h_last", F, [B, H])], inits, name)
    w64 = {k: torch.tensor(v.astype(np.float64)) for k, v in
           (("W", W), ("U", U), ("Un", Un), ("bz", bz), ("br", br), ("bn", bn), ("Wo", Wo), ("bo", bo))}

    def step(args):
        xx, h = args
        steps, hs = [], []
        for t in range(T):
            xz, xr, xn = (xx[t] @ w64["W"]).split(H, 1)
            hz, hr = (h @ w64["U"]).split(H, 1)
            z = torch.sigmoid(xz + hz + w64["bz"])
            r = torch.sigmoid(xr + hr + w64["br"])
            n = torch.tanh(xn + (r * h) @ w64["Un"] + w64["bn"])
            h = (1.0 - z) * n + z * h
            steps.append({"state": [h], "gates": {"update": z, "reset": r, "hidden": n}})
            hs.append(h)
        return (torch.stack(hs) @ w64["Wo"] + w64["bo"], h), steps

    ref = make_step_ref(step, {"x": x, "h0": h0}, ["x", "h0"], ["y", "h_last"])
    path = ["gru_scan", "body", "h_prev"]
    svars = [{"name": "h_prev", "shape": [B, H], "batchAxis": 0}]
    write_case(name,
               "A GRU-like step written with plain ops in a Scan body (built with onnx.helper, opset 14): x [T=9, "
               "B=2, 4] (scan axis 0), state h [B, 6] (initial the graph input h0, nonzero). Body: MatMul(x_t, "
               "W_x [4, 18]) -> Split into 3 (z, r, n) and MatMul(h_prev, U_zr [6, 12]) -> Split into 2 (z, r); "
               "z = Sigmoid(x_z + h_z + b_z), r = Sigmoid(x_r + h_r + b_r), n = Tanh(x_n + MatMul(r * h_prev, "
               "U_n) + b_n), h_next = (1 - z) * n + z * h_prev (Sub, Mul, Mul, Add); scan output y_t = "
               "Identity(h_next) -> hs [9, B, 6] -> MatMul + Add -> y [9, B, 2]; h_last the final state. No "
               "recurrent op: one state layer, op 'state', node h_prev (the body's state input), path %s, "
               "iterations 9 x stepsPerIteration 1, stateVars [{h_prev, [2, 6], batchAxis 0}]: hidden / "
               "gradHidden [T=9, B, 6] (dL/dh_next of iteration t, every path), jacobianNorm.state (= hidden) "
               "through the Scan (finite-differenced through it), sqrt(B * 6) at t = 8; gates update (z), reset "
               "(r), hidden (the candidate n) [9, B, 6]. Checked against the same computation written in torch "
               "(float64: outputs, L, input gradients, gradHidden, hidden, gates). No weightGrads "
               "(clipping.globalNorm 0, factors 1). inputGrads: x, h0. Runs: sum(y); last(y) on time axis 0."
               % json.dumps(path),
               model, {"x": x, "h0": h0},
               [{"kind": "sum", "output": "y"}, {"kind": "last", "output": "y", "timeAxis": 0}], torch_ref=ref,
               state_batch={"h_prev": 0},
               state_gates={"h_prev": {"update": "gate_z", "reset": "gate_r", "hidden": "cand_n"}},
               expect=expect_all(expect_state_layer(name, "h_prev", path, T, svars, ["update", "reset", "hidden"]),
                                 expect_inputs(name, ["x", "h0"], {"x": (T, B, I), "h0": (B, H)})))


def stream_cases():
    stream_lstmcell_if_case()
    stream_handcell_case()   # compared with stream_lstmcell_if
    stream_hn_cn_case()
    keras_loop_lstm_case()
    gru_like_scan_case()


def unsupported_case():
    d = os.path.join(OUT, "_unsupported")
    os.makedirs(d, exist_ok=True)
    T, B, I, H = 5, 2, 3, 4
    w = rec_weights("LSTM", 1, H, I)
    nodes = [helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h"], name="lstm", hidden_size=H),
             helper.make_node("Cos", ["Y"], ["Y_cos"], name="cos"),
             helper.make_node("Sin", ["Y_cos"], ["y"], name="sin")]
    m = build(nodes, [vi("X", F, [T, B, I])], [vi("y", F, [T, 1, B, H])],
              [init(k, v) for k, v in w.items()], "lstm_cos_sin")
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(d, "lstm_cos_sin.onnx"))
    np.save(os.path.join(d, "input_X.npy"), rnd(T, B, I, scale=1.0))
    note = {"models": [{
        "file": "lstm_cos_sin.onnx",
        "inputs": {"X": "input_X.npy"},
        "contains": "LSTM 'lstm' (H=4, I=3, T=5, B=2) -> Cos 'cos' -> Sin 'sin' -> graph output y [5,1,2,4]",
        "gradientPath": ["sin (Sin)", "cos (Cos)", "lstm (LSTM)"],
        "unsupportedOps": ["Cos", "Sin"],
        "unsupportedNodes": ["cos", "sin"],
        "problem": "the gradient of the default objective (sum of y) must flow back through Sin and Cos, neither "
                   "of which has a VJP rule; the analyser must fail (exit 1, 'error:' line) naming both ops "
                   "(or both nodes), not silently report zero gradients. The forward pass alone is valid ONNX "
                   "(opset 14) that onnxruntime runs.",
    }]}
    with open(os.path.join(d, "unsupported.json"), "w") as fh:
        json.dump(note, fh, indent=1)
        fh.write("\n")


def main():
    t0 = time.time()
    # the forward cross-check's NumPy reference must itself reproduce ONNX's backend test data
    # (Debian's libonnx-testdata); missing data stops the script (make_fixtures raises)
    backend = mf.check_backend_testdata()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    torch_cases()
    hand_cases()
    new_cases()
    control_flow_cases()
    stream_cases()
    unsupported_case()
    coverage = activation_coverage()

    print("make_fixtures.recurrent vs ONNX backend test data (%s): %d cases, max |diff| %.2g" % (
        mf.TESTDATA, len(backend), max(w for _, w in backend)))
    print("%-26s %-7s %-7s %14s %5s %9s %4s %9s %9s %9s %9s %4s %9s %4s %9s" % (
        "case", "kind", "output", "L", "#W", "fdW", "#hc", "fdState", "fdJac", "fwd-np", "vs-torch",
        "#in", "fdInput", "#X", "fdX"))
    for c in CHECKS:
        name, kind, out, L, nw, we, ns, se, je, fe, me, ni, ie, nx, xe = c
        print("%-26s %-7s %-7s %14.8g %5d %9.2e %4d %9.2e %9.2e %9.2e %9s %4d %9.2e %4d %9.2e" % (
            name, kind, out[:7], L, nw, we, ns, se, je, fe, "-" if me is None else "%.2e" % me, ni, ie, nx, xe))
    print()
    print("%-26s %6s  %-40s %s" % ("case", "sec", "decay verdicts (run 0)", "min kink distance"))
    for name, sec, info, kink in SUMMARY:
        print("%-26s %6.1f  %-40s %s" % (name, sec, info, "-" if kink == float("inf") else "%.3g" % kink))
    print("\nrecurrent activations (non-default alpha/beta where taken) by case:")
    for n in sorted(coverage):
        print("  %-16s %s" % (n, ", ".join(coverage[n])))
    total = 0
    for dp, _, fs in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dp, f)) for f in fs)
    worst = max(max(c[5], c[7], c[8], c[12], c[14]) for c in CHECKS)
    print("\n%d cases, %d runs, worst FD error %.2e (tolerance %.0e), %.1f kB in %s, %.0f s" % (
        len(SUMMARY), len(CHECKS), worst, FD_TOL, total / 1024, os.path.relpath(OUT, ROOT), time.time() - t0))


if __name__ == "__main__":
    sys.exit(main())
