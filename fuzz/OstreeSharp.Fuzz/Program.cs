// The AFL++ harness: `OstreeSharp.Fuzz TARGET` runs one target under SharpFuzz (fuzz/run.sh instruments the library
// assemblies and starts afl-fuzz); `OstreeSharp.Fuzz TARGET FILE...` runs it on files once each and says which ended
// how, to reproduce a finding.
using OstreeSharp.Fuzz;
using SharpFuzz;

if (args is ["--make-seeds", var corpus, var deltas])
{
    Seeds.Make(corpus, deltas);
    return 0;
}

if (args.Length == 0 || !FuzzTargets.All.ContainsKey(args[0]))
{
    Console.Error.WriteLine($"usage: OstreeSharp.Fuzz TARGET [FILE...]; targets: {string.Join(' ', FuzzTargets.All.Keys)}");
    return 2;
}

var target = args[0];
if (args.Length > 1)
{
    foreach (var file in args.Skip(1))
    {
        try
        {
            FuzzTargets.All[target](File.ReadAllBytes(file));
            Console.WriteLine($"{file}: parsed");
        }
        catch (OstreeSharp.OstreeException e)
        {
            Console.WriteLine($"{file}: refused: {e.Message}");
        }
        catch (Exception e)
        {
            // A finding: its kind and where it was thrown, which fuzz/triage.sh groups by.
            var frame = new System.Diagnostics.StackTrace(e, fNeedFileInfo: false).GetFrames().FirstOrDefault(f => f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("OstreeSharp", StringComparison.Ordinal) == true)?.GetMethod();
            Console.WriteLine($"{file}: crashed: {e.GetType().Name} in {frame?.DeclaringType?.Name}.{frame?.Name}: {e.Message}");
        }
    }

    return 0;
}

var buffer = new MemoryStream();
Fuzzer.OutOfProcess.Run(stream =>
{
    buffer.SetLength(0);
    stream.CopyTo(buffer);
    FuzzTargets.Run(target, buffer.ToArray());
});
return 0;
