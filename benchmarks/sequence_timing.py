"""The four timed calls the recurrent-model benchmarks (CfC, LTC, LSTM) share: forward and
forward + backward (loss = sum of all outputs) of a torch reference and of an ember_mlx model,
on the batch-first float32 input of ``benchmarks/conftest.py``'s ``sequence_inputs`` (with its
``one_torch_thread``).

Each ``time_*`` function runs ``benchmark.pedantic`` and returns the last call's result (the
outputs, or the loss) for the test's own checks. A benchmark gives both sides the same number of
rounds: the ratio compares fastest rounds, and the fastest of fewer rounds overstates a noisy
side's time.
"""

import torch

from ember_mlx.backend import mx, nn

BATCH, STEPS, FEATURES = 64, 100, 32


def time_torch_forward(benchmark, model, inputs, rounds, warmup_rounds=1):
    x = torch.from_numpy(inputs)

    def forward():
        with torch.no_grad():
            return model(x)[0]

    return benchmark.pedantic(forward, rounds=rounds, warmup_rounds=warmup_rounds)


def time_torch_forward_backward(benchmark, model, inputs, rounds, warmup_rounds=1):
    x = torch.from_numpy(inputs)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        loss = model(x)[0].sum()
        loss.backward()
        return loss

    return benchmark.pedantic(forward_backward, rounds=rounds, warmup_rounds=warmup_rounds)


def time_ember_forward(benchmark, model, inputs, rounds, warmup_rounds=1):
    x = mx.array(inputs)

    def forward():
        y = model(x)[0]
        mx.eval(y)
        return y

    return benchmark.pedantic(forward, rounds=rounds, warmup_rounds=warmup_rounds)


def time_ember_forward_backward(benchmark, model, inputs, rounds, warmup_rounds=1):
    x = mx.array(inputs)
    value_and_grad = nn.value_and_grad(model, lambda x: mx.sum(model(x)[0]))

    def forward_backward():
        loss, grads = value_and_grad(x)
        mx.eval(loss, grads)
        return loss

    return benchmark.pedantic(forward_backward, rounds=rounds, warmup_rounds=warmup_rounds)
