using System.Text;

namespace SqlRec.Cli.Data;

/// <summary>
/// Reads a text data file line by line, keeping the line number for error messages and
/// reporting how far through the file it is (in bytes) for progress bars.
/// </summary>
internal sealed class LineFile : IDisposable
{
    private readonly FileStream _stream;
    private readonly StreamReader _reader;

    private LineFile(string path, Encoding encoding)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        _reader = new StreamReader(_stream, encoding, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
        Length = _stream.Length;
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <summary>The file's name, as error messages show it.</summary>
    public string Name => System.IO.Path.GetFileName(Path);

    /// <summary>The file's size in bytes.</summary>
    public long Length { get; }

    /// <summary>Bytes read so far (ahead of the current line by at most one buffer).</summary>
    public long Position => _stream.Position;

    /// <summary>The number of the line last returned by <see cref="ReadLine"/>, from 1.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Opens a file that must exist; a missing one is an error naming it.</summary>
    public static LineFile Open(string path, Encoding encoding)
    {
        if (!File.Exists(path)) throw CliErrors.FileNotFound(path);
        return new LineFile(path, encoding);
    }

    /// <summary>The next line, or null at the end of the file.</summary>
    public string? ReadLine()
    {
        var line = _reader.ReadLine();
        if (line != null) LineNumber++;
        return line;
    }

    /// <summary>An error for the current line: file, line number, what was expected and what it holds.</summary>
    public CliException Malformed(string expected, string line) => CliErrors.MalformedLine(Path, LineNumber, expected, line);

    /// <inheritdoc />
    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
    }
}
