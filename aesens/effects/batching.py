"""When the effects' batch functions hand a batch to :mod:`aesens.dsp`'s kernels.

The kernels vectorise scipy's and pedalboard's recursions across clips; for
a few clips the libraries, called clip by clip, are faster. Both give the
same output bit for bit, so the threshold changes only the speed.
"""

#: Smallest batch for which the vectorised kernels beat the clip-by-clip libraries.
MIN_KERNEL_CLIPS = 4
