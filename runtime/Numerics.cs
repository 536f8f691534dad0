namespace AutoSpIR.Runtime;

/// <summary>
/// Rounding of exact values to an element type, once, to nearest with ties to even (the
/// reference semantics of the tensor dialect): thin wrappers over <see cref="Context.RoundTo"/>,
/// the single implementation, for the float storage of bf16/f16 tensors.
/// </summary>
public static class Numerics
{
    /// <summary><paramref name="v"/> rounded once to the float element type <paramref name="t"/> (f64 unchanged).</summary>
    public static double Round(double v, ScalarType t) => Context.RoundTo(v, t);

    /// <summary><paramref name="v"/> rounded once to f32, bf16 or f16, as the float that stores it.</summary>
    public static float RoundToFloat(double v, ScalarKind kind) => (float)Context.RoundTo(v, Scalar(kind));

    /// <summary>A float (for example a stored bf16 or f16 value) rounded to <paramref name="kind"/>.</summary>
    public static float RoundFloat(float f, ScalarKind kind) => (float)Context.RoundTo(f, Scalar(kind));

    /// <summary>The nearest bf16 (ties to even) to <paramref name="v"/>, as a float.</summary>
    public static float BF16(double v) => RoundToFloat(v, ScalarKind.BF16);

    private static readonly Context Types = new();

    private static ScalarType? Scalar(ScalarKind kind) => kind switch
    {
        ScalarKind.F32 => Types.F32,
        ScalarKind.BF16 => Types.BF16,
        ScalarKind.F16 => Types.F16,
        _ => null,
    };

    /// <summary>The integer <paramref name="x"/> rounded once (to nearest, ties to even) to a float element type.</summary>
    public static double RoundInteger(long x, ScalarType t)
    {
        int p = t.Kind switch { ScalarKind.F64 => 53, ScalarKind.F32 => 24, ScalarKind.BF16 => 8, ScalarKind.F16 => 11, _ => 64 };
        if (x == 0) return 0;
        ulong u = x < 0 ? (ulong)(-(x + 1)) + 1 : (ulong)x;   // |x| without overflow at long.MinValue
        int len = 64 - System.Numerics.BitOperations.LeadingZeroCount(u);
        double mag;
        if (len <= p) mag = u;
        else
        {
            int shift = len - p;
            ulong q = u >> shift, rem = u & ((1UL << shift) - 1), half = 1UL << (shift - 1);
            if (rem > half || (rem == half && (q & 1) == 1)) q++;
            mag = Math.ScaleB(q, shift);   // q has at most p + 1 bits: exact in a double
        }
        if (t.Kind == ScalarKind.F16 && mag > 65504) mag = double.PositiveInfinity;   // beyond f16's largest finite value
        return x < 0 ? -mag : mag;
    }

    /// <summary>True when <paramref name="v"/> is exactly a value of the element type (no rounding would change it).</summary>
    public static bool IsRepresentable(double v, ScalarType t) =>
        double.IsNaN(v) || t.Kind == ScalarKind.F64 || (double)RoundToFloat(v, t.Kind) == v;

    // ------------------------------------------------------------------ integers

    /// <summary>The smallest and largest value of an integer element type (i1: 0 and 1).</summary>
    public static (long Min, long Max) IntRange(ScalarType t) => t.Kind switch
    {
        ScalarKind.I1 => (0, 1),
        ScalarKind.I8 => (sbyte.MinValue, sbyte.MaxValue),
        ScalarKind.I32 => (int.MinValue, int.MaxValue),
        _ => (long.MinValue, long.MaxValue),
    };

    /// <summary>The low bits of <paramref name="x"/> as a value of the integer type (two's complement wrap; i1 keeps bit 0).</summary>
    public static long Wrap(long x, ScalarType t) => t.Kind switch
    {
        ScalarKind.I1 => x & 1,
        ScalarKind.I8 => (sbyte)x,
        ScalarKind.I32 => (int)x,
        _ => x,
    };

    // ------------------------------------------------------------------ special functions

    /// <summary>
    /// The error function in double precision (below 1 ulp), after fdlibm's s_erf.c
    /// (Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved. Developed at SunPro,
    /// a Sun Microsystems, Inc. business. Permission to use, copy, modify, and distribute this
    /// software is freely granted, provided that this notice is preserved.): rational
    /// approximations on [0, 0.84375), [0.84375, 1.25), then erfc through exp on [1.25, 6).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        if (double.IsInfinity(x)) return x > 0 ? 1 : -1;
        double ax = Math.Abs(x);
        if (ax < 0.84375)
        {
            if (ax < 3.725290298461914e-09) return x + Efx * x;   // |x| < 2^-28
            double z = x * x;
            double r = Pp0 + z * (Pp1 + z * (Pp2 + z * (Pp3 + z * Pp4)));
            double s = 1.0 + z * (Qq1 + z * (Qq2 + z * (Qq3 + z * (Qq4 + z * Qq5))));
            return x + x * (r / s);
        }
        if (ax < 1.25)
        {
            double s = ax - 1.0;
            double p = Pa0 + s * (Pa1 + s * (Pa2 + s * (Pa3 + s * (Pa4 + s * (Pa5 + s * Pa6)))));
            double q = 1.0 + s * (Qa1 + s * (Qa2 + s * (Qa3 + s * (Qa4 + s * (Qa5 + s * Qa6)))));
            return x >= 0 ? Erx + p / q : -Erx - p / q;
        }
        if (ax >= 6) return x > 0 ? 1.0 : -1.0;
        double w = 1.0 / (ax * ax);
        double rr, ss;
        if (ax < 1 / 0.35)
        {
            rr = Ra0 + w * (Ra1 + w * (Ra2 + w * (Ra3 + w * (Ra4 + w * (Ra5 + w * (Ra6 + w * Ra7))))));
            ss = 1.0 + w * (Sa1 + w * (Sa2 + w * (Sa3 + w * (Sa4 + w * (Sa5 + w * (Sa6 + w * (Sa7 + w * Sa8)))))));
        }
        else
        {
            rr = Rb0 + w * (Rb1 + w * (Rb2 + w * (Rb3 + w * (Rb4 + w * (Rb5 + w * Rb6)))));
            ss = 1.0 + w * (Sb1 + w * (Sb2 + w * (Sb3 + w * (Sb4 + w * (Sb5 + w * (Sb6 + w * Sb7))))));
        }
        // exp(-x^2) split as exp(-z^2) exp((z - x)(z + x)) with z = x with its low 32 bits cleared.
        double zz = BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(ax) & unchecked((long)0xFFFFFFFF00000000UL));
        double e = Math.Exp(-zz * zz - 0.5625) * Math.Exp((zz - ax) * (zz + ax) + rr / ss);
        return x > 0 ? 1.0 - e / ax : e / ax - 1.0;
    }

    private const double Erx = 8.45062911510467529297e-01;
    private const double Efx = 1.28379167095512586316e-01;
    private const double Pp0 = 1.28379167095512558561e-01, Pp1 = -3.25042107247001499370e-01, Pp2 = -2.84817495755985104766e-02,
        Pp3 = -5.77027029648944159157e-03, Pp4 = -2.37630166566501626084e-05;
    private const double Qq1 = 3.97917223959155352819e-01, Qq2 = 6.50222499887672944485e-02, Qq3 = 5.08130628187576562776e-03,
        Qq4 = 1.32494738004321644526e-04, Qq5 = -3.96022827877536812320e-06;
    private const double Pa0 = -2.36211856075265944077e-03, Pa1 = 4.14856118683748331666e-01, Pa2 = -3.72207876035701323847e-01,
        Pa3 = 3.18346619901161753674e-01, Pa4 = -1.10894694282396677476e-01, Pa5 = 3.54783043256182359371e-02,
        Pa6 = -2.16637559486879084300e-03;
    private const double Qa1 = 1.06420880400844228286e-01, Qa2 = 5.40397917702171048937e-01, Qa3 = 7.18286544141962662868e-02,
        Qa4 = 1.26171219808761642112e-01, Qa5 = 1.36370839120290507362e-02, Qa6 = 1.19844998467991074170e-02;
    private const double Ra0 = -9.86494403484714822705e-03, Ra1 = -6.93858572707181764372e-01, Ra2 = -1.05586262253232909814e+01,
        Ra3 = -6.23753324503260060396e+01, Ra4 = -1.62396669462573470355e+02, Ra5 = -1.84605092906711035994e+02,
        Ra6 = -8.12874355063065934246e+01, Ra7 = -9.81432934416914548592e+00;
    private const double Sa1 = 1.96512716674392571292e+01, Sa2 = 1.37657754143519042600e+02, Sa3 = 4.34565877475229228821e+02,
        Sa4 = 6.45387271733267880336e+02, Sa5 = 4.29008140027567833386e+02, Sa6 = 1.08635005541779435134e+02,
        Sa7 = 6.57024977031928170135e+00, Sa8 = -6.04244152148580987438e-02;
    private const double Rb0 = -9.86494292470009928597e-03, Rb1 = -7.99283237680523006574e-01, Rb2 = -1.77579549177547519889e+01,
        Rb3 = -1.60636384855821916062e+02, Rb4 = -6.37566443368389627722e+02, Rb5 = -1.02509513161107724954e+03,
        Rb6 = -4.83519191608651397019e+02;
    private const double Sb1 = 3.03380607434824582924e+01, Sb2 = 3.25792512996573918826e+02, Sb3 = 1.53672958608443695994e+03,
        Sb4 = 3.19985821950859553908e+03, Sb5 = 2.55305040643316442583e+03, Sb6 = 4.74528541206955367215e+02,
        Sb7 = -2.24409524465858183362e+01;
}
