"""PyTorch reference timings for `npm run bench` (bench/run.js).

Reads a JSON list of {op, hidden, input, seq, batch} from argv[1]; prints one JSON object per
line with the median forward-only and forward+backward (loss = sum of the output) times of
torch.nn.LSTM / GRU / RNN (tanh) on CPU, median of `reps` runs after one warm-up.
PyTorch's GRU is ONNX's GRU with linear_before_reset = 1, the form the synthetic models use.
"""
import json
import statistics
import sys
import time

import torch

configs = json.loads(sys.argv[1])
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
print(json.dumps({"meta": {"torch": torch.__version__, "threads": torch.get_num_threads()}}), flush=True)

CLASSES = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}


def median_ms(fn):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), times


for c in configs:
    model = CLASSES[c["op"]](c["input"], c["hidden"])
    x = torch.randn(c["seq"], c["batch"], c["input"])

    def forward():
        with torch.no_grad():
            model(x)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        y, _ = model(x)
        y.sum().backward()

    fwd, fwd_runs = median_ms(forward)
    fb, fb_runs = median_ms(forward_backward)
    print(json.dumps({**c, "forwardMs": fwd, "forwardBackwardMs": fb, "forwardRunsMs": fwd_runs, "forwardBackwardRunsMs": fb_runs}), flush=True)
