"""The lecture's published numbers (makemore parts 3 and 4, on the lecture's own 32,033-name
dataset), kept in one place so chapters and the results page can print them beside ours.

Keys name experiments; chapters report their runs under the same keys.
"""
import math

EXPECTED_INITIAL_LOSS = -math.log(1 / 27)  # uniform over 27 tokens: 3.2958

# experiment key -> (description, train loss, val loss)
RESULTS = {
    "mlp/original":      ("MLP, original init", 2.1245, 2.1682),
    "mlp/softmax_fixed": ("softmax confidently wrong, fixed", 2.07, 2.13),
    "mlp/tanh_fixed":    ("tanh saturation, fixed", 2.0356, 2.1027),
    "mlp/kaiming":       ("Kaiming init", 2.0377, 2.1070),
    "mlp/batchnorm":     ("MLP with BatchNorm", 2.0674, 2.1057),
    "backprop/manual":   ("part 4, trained with the manual backward pass", 2.0705, 2.1099),
}

SPLIT_SIZES = (182_625, 22_655, 22_866)  # examples in Xtr / Xdev / Xte on the lecture's list
