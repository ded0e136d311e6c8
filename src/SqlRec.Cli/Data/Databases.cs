using Microsoft.Data.Sqlite;

namespace SqlRec.Cli.Data;

/// <summary>Opens database files for the commands, with SqlRec enabled.</summary>
internal static class Databases
{
    /// <summary>
    /// Opens an existing database with SqlRec's SQL functions. A missing file is an error, never
    /// a new empty database: a typo in the path would otherwise "succeed" and train on nothing.
    /// </summary>
    /// <param name="path">The database file.</param>
    /// <param name="progress">Receives training progress from <c>rec_train</c>, when wanted.</param>
    public static SqliteConnection OpenExisting(string path, Action<TrainingProgress>? progress = null)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw CliErrors.DatabaseIsFolder(full);
        if (!File.Exists(full)) throw CliErrors.DatabaseNotFound(full);
        // Mode=ReadWrite also keeps SQLite from creating the file if it vanishes after the check.
        return Open(full, SqliteOpenMode.ReadWrite, progress);
    }

    /// <summary>
    /// Opens an existing database read-only for a scoring job: immutable by default
    /// (<c>file:...?mode=ro&amp;immutable=1</c>: SQLite takes no locks and reads no WAL, so any number of
    /// jobs share one file that no process changes in place, e.g. a replica put in place by an atomic
    /// rename); with <paramref name="snapshot"/> plain read-only, for a file a training may write while
    /// the job runs (the caller then reads in one transaction). A non-empty <c>-wal</c> beside the file
    /// is refused for an immutable open, which would not see its pages.
    /// </summary>
    public static SqliteConnection OpenForScoring(string path, bool snapshot, Action<TrainingProgress>? progress)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw CliErrors.DatabaseIsFolder(full);
        if (!File.Exists(full)) throw CliErrors.DatabaseNotFound(full);
        if (snapshot) return Open(full, SqliteOpenMode.ReadOnly, progress);
        var wal = new FileInfo(full + "-wal");
        if (wal.Exists && wal.Length > 0) throw CliErrors.UncheckpointedLog(full, wal.Length);
        return Open(new Uri(full).AbsoluteUri + "?mode=ro&immutable=1", SqliteOpenMode.ReadOnly, progress);
    }

    /// <summary>Opens a database file, creating it when missing; its folder must exist.</summary>
    public static SqliteConnection OpenOrCreate(string path, Action<TrainingProgress>? progress = null)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw CliErrors.DatabaseIsFolder(full);
        var folder = Path.GetDirectoryName(full);
        if (folder is { Length: > 0 } && !Directory.Exists(folder)) throw CliErrors.DatabaseFolderNotFound(folder);
        return Open(full, SqliteOpenMode.ReadWriteCreate, progress);
    }

    /// <summary>Deletes a database file and its WAL and shared-memory companions, if present.</summary>
    public static void Delete(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal" })
        {
            try
            {
                if (File.Exists(file)) File.Delete(file);
            }
            catch (IOException e)
            {
                throw CliErrors.CannotDelete(file, e.Message, e);
            }
        }
    }

    private static SqliteConnection Open(string path, SqliteOpenMode mode, Action<TrainingProgress>? progress)
    {
        // No pooling: a pooled connection keeps the file open after the command ends, which
        // stops the demo from replacing its file and tests from deleting their folders.
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            connection.UseSqlRec(new SqlRecOptions { Progress = progress });
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}
