"""When the filters' batch functions hand a batch to :mod:`aesens.effects.dsp`'s ``sosfilt`` kernel.

The kernel vectorises scipy's recursion across clips; for a few clips scipy,
called clip by clip, is faster. Both give the same output bit for bit, so
the threshold changes only the speed. (The reverb's kernel works clip by
clip and beats pedalboard from one clip on.)
"""

#: Smallest batch for which the vectorised kernels beat the clip-by-clip libraries.
MIN_KERNEL_CLIPS = 4
