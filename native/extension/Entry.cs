using System.Runtime.InteropServices;

namespace SqlRec.Extension;

/// <summary>The native entry point of the loadable extension; everything it does is in the library (<c>SqlRecExtension</c>).</summary>
public static unsafe partial class Entry
{
    private static string? _folder;

    /// <summary>
    /// <c>sqlite3_sqlrec_init</c>: SQLite calls it when a host loads <c>sqlrec.so</c>
    /// (<c>.load ./sqlrec</c>, <c>load_extension('./sqlrec')</c>), with the connection, where to put an
    /// error message, and the host's <c>sqlite3_api_routines</c>.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "sqlite3_sqlrec_init")]
    public static int Init(nint db, byte** errorMessage, nint routines) =>
        SqlRecExtension.Init(db, errorMessage, routines, _folder ??= Folder());

    /// <summary>
    /// The folder this native library was loaded from (the host's program lives elsewhere): the
    /// module that holds <see cref="Init"/>, asked of the loader.
    /// </summary>
    private static string Folder()
    {
        var address = (nint)(delegate* unmanaged<nint, byte**, nint, int>)&Init;
        string? path = null;
        if (OperatingSystem.IsWindows())
        {
            if (GetModuleHandleExW(0x4 | 0x2, address, out var module) != 0) // FROM_ADDRESS | UNCHANGED_REFCOUNT
            {
                var buffer = new char[32768];
                fixed (char* p = buffer)
                {
                    var length = GetModuleFileNameW(module, p, buffer.Length);
                    if (length > 0) path = new string(p, 0, (int)length);
                }
            }
        }
        else if (dladdr(address, out var info) != 0 && info.FileName != 0)
        {
            path = Marshal.PtrToStringUTF8(info.FileName);
        }
        return Path.GetDirectoryName(path) is { Length: > 0 } folder ? folder : AppContext.BaseDirectory;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public nint FileName;
        public nint Base;
        public nint SymbolName;
        public nint SymbolAddress;
    }

    [LibraryImport("libc", EntryPoint = "dladdr")]
    private static partial int dladdr(nint address, out DlInfo info);

    [LibraryImport("kernel32")]
    private static partial int GetModuleHandleExW(uint flags, nint address, out nint module);

    [LibraryImport("kernel32")]
    private static partial uint GetModuleFileNameW(nint module, char* fileName, int size);
}
