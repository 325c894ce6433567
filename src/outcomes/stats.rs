//! The statistics of the report: a rate's 95 % interval (Wilson's score interval, which
//! stays inside 0..1 and behaves with few customers) and the two-proportion z-test of two
//! arms of a split (pooled standard error, two-sided p-value). Written here rather than
//! taken from a statistics crate: two formulas and the normal distribution's tail, against
//! a dependency tree (statrs brings nalgebra) that would add build minutes.

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A share `k / n` with its 95 % Wilson interval; `n == 0` gives 0 in 0..1.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

pub fn wilson(k: u64, n: u64) -> Rate {
    if n == 0 {
        return Rate {
            k,
            n,
            value: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let (kf, nf) = (k.min(n) as f64, n as f64);
    let p = kf / nf;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denominator;
    let half = Z95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denominator;
    Rate {
        k,
        n,
        value: p,
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    }
}

/// The two-proportion z-test of `a` against `b`: z (positive when `a` is higher) and the
/// two-sided p-value; `None` when either arm is empty or both rates are 0 or 1.
pub fn two_proportion(a: Rate, b: Rate) -> Option<(f64, f64)> {
    if a.n == 0 || b.n == 0 {
        return None;
    }
    let pooled = (a.k + b.k) as f64 / (a.n + b.n) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / a.n as f64 + 1.0 / b.n as f64)).sqrt();
    if se == 0.0 || !se.is_finite() {
        return None;
    }
    let z = (a.value - b.value) / se;
    Some((z, erfc(z.abs() / std::f64::consts::SQRT_2)))
}

/// The complementary error function (W. J. Cody's rational approximations as in
/// Numerical Recipes' `erfcc`, relative error below 1.2e-7): the normal tail, for
/// p-values.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_published_values() {
        // 81 of 263 (Wilson 1927 via Newcombe 1998, table I): 0.2553 to 0.3662.
        let r = wilson(81, 263);
        assert!(close(r.low, 0.2553) && close(r.high, 0.3662), "{r:?}");
        // 0 of 10: 0 to 0.2775.
        let r = wilson(0, 10);
        assert!(close(r.low, 0.0) && close(r.high, 0.2775), "{r:?}");
        assert_eq!(wilson(0, 0).high, 1.0);
    }

    #[test]
    fn two_proportions_are_tested_like_a_textbook() {
        // 120/1000 against 90/1000: z = 2.1883, p = 0.0287.
        let (z, p) = two_proportion(wilson(120, 1000), wilson(90, 1000)).unwrap();
        assert!(close(z, 2.1883) && close(p, 0.0287), "z {z} p {p}");
        let (z, p) = two_proportion(wilson(50, 100), wilson(50, 100)).unwrap();
        assert!(close(z, 0.0) && close(p, 1.0), "z {z} p {p}");
        assert!(two_proportion(wilson(0, 10), wilson(0, 10)).is_none());
        assert!(two_proportion(wilson(1, 10), wilson(0, 0)).is_none());
    }
}
