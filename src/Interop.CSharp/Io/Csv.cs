using System.Globalization;
using System.Text;

namespace Theory.Interop.Io;

/// <summary>
/// A tidy CSV table built in memory and written atomically: one header row of snake_case names, then rows.
/// Numbers use the invariant culture and the shortest round-trip form, so equal doubles give equal bytes.
/// The text is kept as UTF-8 chunks of about a million characters (one byte per character, and no single string,
/// whose length .NET caps near 10^9 characters), so large tables cost what they hold and never fail at the end of a
/// long run.
/// </summary>
public sealed class CsvTable
{
    /// <summary>Characters collected before they are encoded into a chunk.</summary>
    private const int ChunkChars = 1 << 20;

    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly StringBuilder _sb = new();
    private readonly List<byte[]> _chunks = new();
    private int _cellsInRow;

    public CsvTable(IEnumerable<string> columns)
    {
        Columns = columns.ToArray();
        if (Columns.Count == 0) throw new ArgumentException("a table needs at least one column");
        _sb.AppendJoin(',', Columns.Select(Quote)).Append('\n');
    }

    public IReadOnlyList<string> Columns { get; }
    public int Rows { get; private set; }

    public CsvTable Add(double x)
    {
        Sep();
        _sb.Append(Format(x));
        return this;
    }

    public CsvTable Add(long x)
    {
        Sep();
        _sb.Append(x.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    public CsvTable Add(string s)
    {
        Sep();
        _sb.Append(Quote(s));
        return this;
    }

    public CsvTable AddRange(ReadOnlySpan<double> xs)
    {
        foreach (var x in xs) Add(x);
        return this;
    }

    public CsvTable AddRange(IEnumerable<double> xs)
    {
        foreach (var x in xs) Add(x);
        return this;
    }

    /// <summary>Ends the current row; throws if it does not have one cell per column.</summary>
    public CsvTable EndRow()
    {
        if (_cellsInRow != Columns.Count)
            throw new InvalidOperationException($"row {Rows + 1} has {_cellsInRow} cells, table has {Columns.Count} columns");
        _sb.Append('\n');
        _cellsInRow = 0;
        Rows++;
        // Only at row ends, so a chunk boundary never splits a multi-byte character or a cell.
        if (_sb.Length >= ChunkChars) Spill();
        return this;
    }

    /// <summary>Bytes of UTF-8 text held so far (the size of the file <see cref="Save"/> writes, up to the current
    /// row).</summary>
    public long Bytes
    {
        get
        {
            long n = Utf8.GetByteCount(_sb.ToString());
            foreach (var c in _chunks) n += c.Length;
            return n;
        }
    }

    private void Spill()
    {
        _chunks.Add(Utf8.GetBytes(_sb.ToString()));
        _sb.Clear();
    }

    public void Row(params double[] xs) => AddRange(xs).EndRow();

    public override string ToString()
    {
        var all = new StringBuilder();
        foreach (var c in _chunks) all.Append(Utf8.GetString(c));
        return all.Append(_sb).ToString();
    }

    public void Save(string path)
    {
        if (_cellsInRow != 0) throw new InvalidOperationException("the last row is not finished");
        var tail = Utf8.GetBytes(_sb.ToString());
        AtomicFile.Write(path, s =>
        {
            foreach (var c in _chunks) s.Write(c, 0, c.Length);
            s.Write(tail, 0, tail.Length);
        });
    }

    private void Sep()
    {
        if (_cellsInRow > 0) _sb.Append(',');
        _cellsInRow++;
    }

    public static string Format(double x) =>
        double.IsNaN(x) ? "nan" : x.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}

/// <summary>A CSV file read back: header names and string cells (simple RFC-4180 quoting).</summary>
public sealed class CsvData
{
    public required string[] Columns { get; init; }
    public required List<string[]> Rows { get; init; }

    public int Index(string column)
    {
        int i = Array.IndexOf(Columns, column);
        if (i < 0) throw new KeyNotFoundException($"column '{column}' not found");
        return i;
    }

    public double[] Numbers(string column)
    {
        int i = Index(column);
        return Rows.Select(r => ParseNumber(r[i])).ToArray();
    }

    public static double ParseNumber(string s) =>
        s == "nan" ? double.NaN : double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    public static CsvData Read(string path) => Parse(File.ReadAllText(path));

    public static CsvData Parse(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { cell.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else cell.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { row.Add(cell.ToString()); cell.Clear(); }
            else if (c == '\n')
            {
                row.Add(cell.ToString()); cell.Clear();
                rows.Add(row.ToArray()); row.Clear();
            }
            else if (c != '\r') cell.Append(c);
        }
        if (cell.Length > 0 || row.Count > 0) { row.Add(cell.ToString()); rows.Add(row.ToArray()); }
        if (rows.Count == 0) throw new FormatException("empty CSV");
        return new CsvData { Columns = rows[0], Rows = rows.Skip(1).ToList() };
    }
}
