using System.Text.Json.Nodes;

namespace Theory.Interop;

/// <summary>
/// <c>manifest.json</c> of a run directory: the full resolved configuration, seed, version, times and status.
/// The data files of a run are bitwise reproducible; the manifest is not (it records wall-clock times).
/// </summary>
public sealed class RunManifest
{
    public string Command { get; set; } = "";
    public string Version { get; set; } = VersionInfo.Version;
    /// <summary>running, completed, interrupted or failed.</summary>
    public string Status { get; set; } = "running";
    public string? Message { get; set; }
    public int? Seed { get; set; }
    public DateTimeOffset Started { get; set; } = DateTimeOffset.UtcNow;
    public DateTimeOffset? Finished { get; set; }
    public double WallSeconds { get; set; }
    public string Machine { get; set; } =
        $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, " +
        $".NET {Environment.Version}";
    /// <summary>The resolved configuration: every option with its value (defaults included).</summary>
    public JsonObject Config { get; set; } = new();
    /// <summary>Headline results (final errors, breakdown times, ...), command specific.</summary>
    public JsonObject Results { get; set; } = new();
    /// <summary>Files written in the run directory, relative paths.</summary>
    public List<string> Files { get; set; } = new();

    public void Finish(string status, string? message = null)
    {
        Status = status;
        Message = message;
        Finished = DateTimeOffset.UtcNow;
        WallSeconds = (Finished.Value - Started).TotalSeconds;
    }
}

public static class VersionInfo
{
    public static string Version =>
        typeof(VersionInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
