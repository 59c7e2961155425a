"""The counter-based generator: Random123 known answers, bit equality with an independent numpy
Threefry, the exact uint32 -> float map, and the statistics of uniform and normal draws."""

import numpy as np
import pytest
from scipy import stats

from ember_mlx.backend import mx, to_numpy
from ember_mlx.kernels.rng import bits_to_uniform, normal, threefry2x32, uniform

# Random123's kat_vectors for threefry2x32_20: (counter, key) -> output.
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
]


def numpy_threefry2x32(key0, key1, counter0, counter1):
    """Threefry-2x32-20 written from the Random123 specification, in numpy uint32."""
    rotations = (13, 15, 26, 6, 17, 29, 16, 24)
    key0, key1, x0, x1 = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.uint32) for a in (key0, key1, counter0, counter1))
    )
    keys = [key0, key1, key0 ^ key1 ^ np.uint32(0x1BD11BDA)]
    x0 = x0 + keys[0]
    x1 = x1 + keys[1]
    for i in range(20):
        r = np.uint32(rotations[i % 8])
        x0 = x0 + x1
        x1 = ((x1 << r) | (x1 >> (np.uint32(32) - r))) ^ x0
        if i % 4 == 3:
            s = (i + 1) // 4
            x0 = x0 + keys[s % 3]
            x1 = x1 + keys[(s + 1) % 3] + np.uint32(s)
    return x0, x1


def u32(x):
    return mx.array(np.asarray(x, dtype=np.uint32))


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_threefry_known_answers(counter, key, expected):
    x0, x1 = threefry2x32(key[0], key[1], counter[0], counter[1])
    assert (int(to_numpy(x0)), int(to_numpy(x1))) == expected


def test_threefry_equals_numpy_threefry_bit_for_bit():
    rng = np.random.default_rng(1)
    words = [rng.integers(0, 2**32, size=(4, 1, 6), dtype=np.uint32) for _ in range(2)]
    counters = [rng.integers(0, 2**32, size=(1, 5, 6), dtype=np.uint32) for _ in range(2)]
    ours = threefry2x32(u32(words[0]), u32(words[1]), u32(counters[0]), u32(counters[1]))
    theirs = numpy_threefry2x32(words[0], words[1], counters[0], counters[1])
    for a, b in zip(ours, theirs, strict=True):
        assert to_numpy(a).dtype == np.uint32
        np.testing.assert_array_equal(to_numpy(a), b)


def test_uniform_is_top_24_bits_of_the_first_word():
    chain = np.arange(3, dtype=np.uint32)[:, None]
    unit = np.arange(7, dtype=np.uint32)[None, :]
    got = to_numpy(uniform(11, u32(chain), 4, u32(unit)))
    bits, _ = numpy_threefry2x32(11, chain, unit, 4)
    expected = (bits >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
    assert got.dtype == np.float32 and got.shape == (3, 7)
    np.testing.assert_array_equal(got, expected)


def test_bits_to_uniform_edges_are_exact():
    got = to_numpy(bits_to_uniform(u32([0, 255, 256, 0xFFFFFFFF])))
    np.testing.assert_array_equal(got, np.array([0.0, 0.0, 2.0**-24, 1.0 - 2.0**-24], np.float32))


def test_stored_numbers_do_not_change():
    # The stream is part of the format: saved seeds must keep giving the same samples.
    got = to_numpy(uniform(2024, u32([[0], [1]]), 3, u32([[0, 1, 2]])))
    expected = numpy_threefry2x32(2024, [[0], [1]], [[0, 1, 2]], 3)[0] >> np.uint32(8)
    np.testing.assert_array_equal(got * 2.0**24, expected.astype(np.float32))
    np.testing.assert_array_equal(
        expected, np.array([[10760103, 6921979, 1800096], [12156907, 4477778, 1450888]])
    )


def test_uniform_statistics():
    chain = u32(np.arange(40)[:, None])
    unit = u32(np.arange(250)[None, :])
    u = to_numpy(uniform(5, chain, 0, unit)).ravel()
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Neighbouring draws, chains and units are uncorrelated.
    u_next = to_numpy(uniform(5, chain, 1, unit)).ravel()
    assert abs(np.corrcoef(u, u_next)[0, 1]) < 0.05
    grid = u.reshape(40, 250)
    assert abs(np.corrcoef(grid[:-1].ravel(), grid[1:].ravel())[0, 1]) < 0.05
    assert abs(np.corrcoef(grid[:, :-1].ravel(), grid[:, 1:].ravel())[0, 1]) < 0.05


def test_seeds_give_different_streams():
    unit = u32(np.arange(64))
    a = to_numpy(uniform(0, 0, 0, unit))
    b = to_numpy(uniform(1, 0, 0, unit))
    assert not np.any(a == b)


def test_normal_statistics_and_formula():
    chain = u32(np.arange(40)[:, None])
    unit = u32(np.arange(250)[None, :])
    z = to_numpy(normal(9, chain, 2, unit))
    assert z.dtype == np.float32 and z.shape == (40, 250)
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    bits0, bits1 = numpy_threefry2x32(9, np.arange(40)[:, None], np.arange(250)[None, :], 2)
    u0 = (bits0 >> np.uint32(8)) * 2.0**-24
    u1 = (bits1 >> np.uint32(8)) * 2.0**-24
    expected = np.sqrt(-2.0 * np.log(1.0 - u0)) * np.cos(2.0 * np.pi * u1)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)


def test_out_of_range_words_raise():
    with pytest.raises(ValueError, match="2\\*\\*32"):
        uniform(2**32, 0, 0, 0)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        threefry2x32(-1, 0, 0, 0)
