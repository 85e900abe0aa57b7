"""OCR pipeline, step 5: a line text_direction calls upside down (180, with
probability over 0.9, PP-OCR's threshold) is turned half a circle before the
recognizer reads it. TURNED says which were."""
import numpy as np
import triton_python_backend_utils as pb_utils

TURN_THRESHOLD = 0.9


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "REC_X").as_numpy()
            direction = pb_utils.get_input_tensor_by_name(request, "DIRECTION").as_numpy()
            turned = direction[:, 1] > TURN_THRESHOLD
            upright = x.copy()
            upright[turned] = x[turned][:, :, ::-1, ::-1]
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("UPRIGHT_X", upright), pb_utils.Tensor("TURNED", turned)]))
        return responses
