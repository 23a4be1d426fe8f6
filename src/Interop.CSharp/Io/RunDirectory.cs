namespace Theory.Interop.Io;

/// <summary>
/// A run's output folder. <see cref="Prepare"/> checks up front that it can be created and written, so that a bad
/// <c>--out</c> fails before any work with exit code 2, and nothing half-written is left behind.
/// </summary>
public sealed class RunDirectory
{
    private RunDirectory(string path) => Path = path;

    public string Path { get; }

    public string File(string relative) => System.IO.Path.Combine(Path, relative);

    /// <summary>Creates (if needed) and probes the folder; throws <see cref="SpecException"/> for <paramref name="option"/>.</summary>
    public static RunDirectory Prepare(string path, string option = "--out")
    {
        if (string.IsNullOrWhiteSpace(path)) throw new SpecException(option, "must name a folder");
        string full;
        try
        {
            full = System.IO.Path.GetFullPath(path);
            if (System.IO.File.Exists(full))
                throw new SpecException(option, $"'{path}' is a file, not a folder");
            Directory.CreateDirectory(full);
            var probe = System.IO.Path.Combine(full, $".probe.{Environment.ProcessId}.{Guid.NewGuid():N}");
            System.IO.File.WriteAllBytes(probe, []);
            System.IO.File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException
                                      or ArgumentException)
        {
            throw new SpecException(option, $"cannot write to folder '{path}' ({e.Message})");
        }
        return new RunDirectory(full);
    }

    public void SaveManifest(RunManifest manifest) => Json.Save(File("manifest.json"), manifest);

    /// <summary>
    /// Deletes the temporary files (<c>.NAME.PID.GUID.tmp</c>, see <see cref="AtomicFile"/>) that processes killed
    /// mid-write left in this folder and its subfolders; files of processes still running on this machine are
    /// kept. Returns how many were deleted. Not for folders that processes on other machines write into (their
    /// process ids mean nothing here).
    /// </summary>
    public int RemoveStaleTemporaryFiles()
    {
        int removed = 0;
        foreach (var path in Directory.EnumerateFiles(Path, ".*.tmp", SearchOption.AllDirectories))
        {
            var parts = System.IO.Path.GetFileName(path).Split('.');
            // "", NAME (may contain dots), PID, GUID, "tmp"
            if (parts.Length < 5 || !int.TryParse(parts[^3], out int pid) || parts[^2].Length != 32) continue;
            if (pid == Environment.ProcessId || IsRunning(pid)) continue;
            try
            {
                System.IO.File.Delete(path);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
