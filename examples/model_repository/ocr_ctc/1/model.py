"""OCR pipeline, step 7: greedy CTC decoding of text_recognition's output
with PP-OCR's dictionary (class 0 is the blank, 1..N the lines of
text_recognition/ppocr_keys_v1.txt, then the space). TEXT: one line each,
in reading order (bottom first when most lines were upside down: the page
was); BOXES: where each line is in the image (x0, y0, x1, y1); SCORES: the
mean probability of its characters. A blank line is left out."""
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        keys = Path(args["model_repository"]).parent / "text_recognition" / "ppocr_keys_v1.txt"
        self.keys = keys.read_text(encoding="utf-8").split("\n")

    def decode(self, probs):
        best, confidence = probs.argmax(-1), probs.max(-1)
        chars, scores, previous = [], [], 0
        for step, k in enumerate(best):
            if k != previous and k != 0:
                chars.append(self.keys[k - 1] if k - 1 < len(self.keys) else " ")
                scores.append(confidence[step])
            previous = k
        return "".join(chars).strip(), float(np.mean(scores)) if scores else 0.0

    def execute(self, requests):
        responses = []
        for request in requests:
            probs = pb_utils.get_input_tensor_by_name(request, "PROBS").as_numpy()
            boxes = pb_utils.get_input_tensor_by_name(request, "LINE_BOXES").as_numpy()
            turned = pb_utils.get_input_tensor_by_name(request, "TURNED").as_numpy()
            lines = [(*self.decode(probs[i]), boxes[i]) for i in range(len(boxes))]
            lines = [line for line in lines if line[0]]
            if len(boxes) and turned[:len(boxes)].mean() > 0.5:
                lines.sort(key=lambda line: (-line[2][3], -line[2][2]))
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("TEXT", np.array([line[0].encode() for line in lines], dtype=np.object_)),
                pb_utils.Tensor("BOXES", np.array([line[2] for line in lines], np.int32).reshape(-1, 4)),
                pb_utils.Tensor("SCORES", np.array([line[1] for line in lines], np.float32))]))
        return responses
