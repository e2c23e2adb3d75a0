using System.Text.Json;

namespace OstreeSharp.Tests;

/// <summary>The golden vectors made with the real ostree CLI (TestData/ostree-vectors).</summary>
internal static class Vectors
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "TestData", "ostree-vectors");

    public static string ArchiveRepo => Path.Combine(Dir, "repo-archive");

    private static readonly Lazy<JsonDocument> Doc = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json"))));

    public static JsonElement Manifest => Doc.Value.RootElement;

    public static IEnumerable<JsonElement> Objects(string repo) => Manifest.GetProperty(repo).GetProperty("objects").EnumerateArray();

    public static byte[] Hex(this JsonElement e, string name) => Convert.FromHexString(e.GetProperty(name).GetString()!);

    public static string Str(this JsonElement e, string name) => e.GetProperty(name).GetString()!;

    public static TheoryData<string> ObjectIds(string repo, Func<JsonElement, bool> filter)
    {
        var data = new TheoryData<string>();
        foreach (var o in Objects(repo).Where(filter))
        {
            data.Add(o.Str("checksum") + "." + o.Str("type"));
        }

        return data;
    }

    /// <summary>Copies the archive vector repository to <paramref name="dest"/> (tests may modify the copy).</summary>
    public static string CopyArchiveRepo(string dest)
    {
        foreach (var f in Directory.EnumerateFiles(ArchiveRepo, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dest, Path.GetRelativePath(ArchiveRepo, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }

        return dest;
    }

    public static JsonElement Find(string repo, string idAndType) =>
        Objects(repo).First(o => o.Str("checksum") + "." + o.Str("type") == idAndType);
}
