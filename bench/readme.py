"""Both benchmarks write their results table into a marked section of README.md."""
import os

from tests.simulator.harness import ROOT


def write_section(begin, end, block, heading):
    """Replace the text between the markers; append the section under ``heading`` when it is not there yet."""
    path = os.path.join(ROOT, "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + begin + "\n" + block + end + tail
    else:
        text = text.rstrip("\n") + "\n\n" + heading + "\n\n" + begin + "\n" + block + end + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
