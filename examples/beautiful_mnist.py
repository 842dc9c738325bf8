"""Train a small convolutional network on MNIST (or Fashion-MNIST) with tinygrad.

Env: STEPS (default 70) training steps of BS (default 512) images drawn at random with Tensor.randint;
FASHION=1 to use Fashion-MNIST (used anyway when MNIST is not on this machine and cannot be downloaded);
TARGET_EVAL_ACC_PCT: exit non-zero unless the final test accuracy reaches it; DEV picks the device.
The training step (forward, backward, Adam update) runs under TinyJit: from the third step on it replays the
captured kernels. Test accuracy over the 10000 test images is measured every 10 steps and at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tinygrad import Device, GlobalCounters, Tensor, TinyJit, getenv, nn
from tinygrad.helpers import colored, trange
from tinygrad.nn.datasets import DatasetNotFoundError, mnist


class Model:
    def __init__(self) -> None:
        self.layers: list[Callable[[Tensor], Tensor]] = [
            nn.Conv2d(1, 32, 5), Tensor.relu,
            nn.Conv2d(32, 32, 5), Tensor.relu,
            nn.BatchNorm(32), Tensor.max_pool2d,
            nn.Conv2d(32, 64, 3), Tensor.relu,
            nn.Conv2d(64, 64, 3), Tensor.relu,
            nn.BatchNorm(64), Tensor.max_pool2d,
            lambda x: x.flatten(1), nn.Linear(576, 10),
        ]  # fmt: skip

    def __call__(self, x: Tensor) -> Tensor:
        return x.sequential(self.layers)


def load_data() -> tuple[str, tuple[Tensor, Tensor, Tensor, Tensor]]:
    if getenv("FASHION", 0):
        return "Fashion-MNIST", mnist(fashion=True)
    try:
        return "MNIST", mnist()
    except DatasetNotFoundError:
        print("MNIST is not on this machine and could not be downloaded: using Fashion-MNIST", file=sys.stderr)
        return "Fashion-MNIST", mnist(fashion=True)


def main() -> int:
    name, (X_train, Y_train, X_test, Y_test) = load_data()
    steps, bs = getenv("STEPS", 70), getenv("BS", 512)
    print(f"{name} on {Device.DEFAULT}: {X_train.shape[0]} training images, {X_test.shape[0]} test images; "
          f"{steps} steps of {bs}")  # fmt: skip

    model = Model()
    opt = nn.optim.Adam(nn.state.get_parameters(model))

    @TinyJit
    @Tensor.train()
    def train_step() -> Tensor:
        opt.zero_grad()
        samples = Tensor.randint(bs, high=X_train.shape[0])
        loss = model(X_train[samples]).sparse_categorical_crossentropy(Y_train[samples]).backward()
        # realizing the loss with the update makes one schedule, so the update fuses into the backward pass
        return loss.realize(*opt.schedule_step())

    # not under TinyJit (unlike the training step): a jitted replay of the training step does not yet mark the
    # weights it overwrites as changed, so a jitted evaluation, whose captured graph stays alive, would reuse results
    # computed from old weights (tests/test_optim.py::test_core_jit_replay_invalidates_cached_results)
    def test_accuracy() -> Tensor:
        return ((model(X_test).argmax(axis=1) == Y_test).mean() * 100).realize()

    acc = float("nan")
    st = time.perf_counter()
    for i in (t := trange(steps)):
        GlobalCounters.reset()
        loss = train_step()
        if i % 10 == 9 or i == steps - 1:
            acc = test_accuracy().item()
        t.set_description(f"loss: {loss.item():6.2f} test accuracy: {acc:5.2f}%")
    print(f"{name}: {steps} steps in {time.perf_counter() - st:.1f} s, test accuracy {acc:.2f}%")

    if target := getenv("TARGET_EVAL_ACC_PCT", 0.0):
        if acc >= target:
            print(colored(f"test accuracy {acc:.2f}% >= target {target}%", "green"))
        else:
            print(colored(f"test accuracy {acc:.2f}% < target {target}%", "red"), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
