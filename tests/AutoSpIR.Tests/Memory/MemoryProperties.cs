using AutoSpIR.Tests.AutoSp;
using AutoSpIR.Tests.Properties;
using FsCheck.Fluent;
using Xunit.Abstractions;
using FsGen = FsCheck.Fluent.Gen;

namespace AutoSpIR.Tests.Memory;

/// <summary>
/// Planned = measured on random decoder training steps (<see cref="MemoryHarness.Check"/>): the
/// joint program of <c>autodiff</c> on one device (f64, f32, bf16), and the per-rank program of
/// <c>autodiff,autosp{sp=P,dp=D}</c> on its P*D in-process ranks.
/// </summary>
public class MemoryProperties(ITestOutputHelper output)
{
    private static FsCheck.Gen<DecoderCase> Cases(bool spmd) =>
        AutoSpHarness.Decoders(spmd ? AutoSpHarness.Meshes(new[] { 2, 3, 4 }, new[] { 1, 1, 2 }) : AutoSpHarness.Meshes(new[] { 1 }, new[] { 1 }));

    [Fact]
    public void PlannedEqualsMeasuredOnOneDevice() =>
        PropertyRunner.ForAll(output, "planned = measured, one device", Arb.From(
            from c in Cases(spmd: false) from dtype in FsGen.Elements("f64", "f32", "bf16") select (c, dtype)), 100, 20261122, t =>
        {
            var joint = AutoSpHarness.Joint(t.c, t.dtype);
            MemoryHarness.Check(joint, AutoSpHarness.Inputs(joint, t.c), spmd: false, $"{t.c} {t.dtype}");
        });

    [Fact]
    public void PlannedEqualsMeasuredPerRankAfterAutoSp() =>
        PropertyRunner.ForAll(output, "planned = measured, per rank after autosp", Arb.From(Cases(spmd: true)), 50, 20261122, c =>
        {
            var joint = AutoSpHarness.Joint(c);
            var inputs = AutoSpHarness.Inputs(joint, c);
            MemoryHarness.Check(AutoSpHarness.Partitioned(c), inputs, spmd: true, c.ToString());
        });

    [Fact]
    public void ScheduleKeepsBitsAndNeverRaisesThePeak() =>
        PropertyRunner.ForAll(output, "mem-schedule: same bits, peak no higher", Arb.From(
            from spmd in FsGen.Elements(false, true) from c in Cases(spmd) select (c, spmd)), 40, 20261124, t =>
        {
            var joint = AutoSpHarness.Joint(t.c);
            var inputs = AutoSpHarness.Inputs(joint, t.c);
            ScheduleHarness.Check(t.spmd ? AutoSpHarness.Partitioned(t.c) : joint, inputs, t.spmd, t.c.ToString());
        });
}
