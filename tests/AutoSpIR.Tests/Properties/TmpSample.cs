namespace AutoSpIR.Tests.Properties;
public class TmpSample
{
    [Fact]
    public void Dump()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var spec in FsCheck.Fluent.Gen.Sample(ModuleGenerators.ValidSpecs, 3))
            sb.Append(Printer.Print(ValidModuleBuilder.Build(spec, out _)));
        foreach (var spec in FsCheck.Fluent.Gen.Sample(ModuleGenerators.UnregisteredSpecs(), 2))
            sb.Append(Printer.Print(UnregisteredModuleBuilder.Build(spec, out _, out _)));
        File.WriteAllText("/tmp/sample.aspir", sb.ToString());
    }
}
