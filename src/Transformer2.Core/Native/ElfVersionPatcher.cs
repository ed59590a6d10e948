// This file is compiled twice: into Transformer2.Core (where TRANSFORMER2_LIBRARY is defined) and, unchanged,
// by MSBuild's RoslynCodeTaskFactory as the build task in build/Transformer2.Core.targets. It must therefore
// use nothing but the base class library, and C# that the task factory's compiler accepts.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace Transformer2.Core.Native
{
    /// <summary>
    /// Marks unsatisfiable-but-unused symbol-version requirements of an ELF shared object as weak.
    /// </summary>
    /// <remarks>
    /// TorchSharp 0.107's <c>libLibTorchSharp.so</c> was linked against libstdc++ 13 and so requires
    /// <c>GLIBCXX_3.4.32</c>, solely for <c>std::ios_base_library_init</c>, which nothing calls. On Debian 12
    /// and Ubuntu 22.04 libstdc++ stops at 3.4.30, and the dynamic loader refuses the library. Setting the
    /// <c>VER_FLG_WEAK</c> bit on that <c>Vernaux</c> entry turns the hard failure into a silent miss. The patch
    /// is made only when (a) the system libstdc++ lacks the version and (b) every symbol bound to it is on
    /// <see cref="KnownUnusedSymbols"/>; otherwise the file is left byte-for-byte unchanged.
    /// </remarks>
#if TRANSFORMER2_LIBRARY
    internal
#else
    public
#endif
    static class ElfVersionPatcher
    {
        const uint ShtDynsym = 11, ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
        const ushort VerFlagWeak = 0x2;

        /// <summary>Symbols that may safely stay unresolved: the loader binds them lazily and no code calls them.</summary>
        public static readonly IReadOnlyCollection<string> KnownUnusedSymbols = new[] { "_ZSt21ios_base_library_initv" };

        /// <summary>Outcome of <see cref="PatchFile"/>.</summary>
        public sealed class Result
        {
            /// <summary>Version names that were marked weak by this call.</summary>
            public List<string> Weakened { get; } = new List<string>();
            /// <summary>Required versions the system lacks that were left alone because real symbols need them.</summary>
            public List<string> LeftRequired { get; } = new List<string>();
            /// <summary>True when the file on disk was rewritten.</summary>
            public bool Changed => Weakened.Count > 0;
        }

        /// <summary>
        /// Patches <paramref name="path"/> in place (atomically: a sibling temporary file is renamed over it).
        /// </summary>
        /// <param name="path">The shared object to patch.</param>
        /// <param name="providedVersions">Version names the system's libraries define, keyed by soname
        /// (for example <c>libstdc++.so.6</c>); a soname absent from the map is treated as providing nothing.</param>
        public static Result PatchFile(string path, IReadOnlyDictionary<string, HashSet<string>> providedVersions)
        {
            byte[] image = File.ReadAllBytes(path);
            Result result = PatchImage(image, path, providedVersions);
            if (result.Changed)
            {
                string temp = path + ".t2patch-" + Guid.NewGuid().ToString("N");
                try
                {
                    File.WriteAllBytes(temp, image);
                    File.Replace(temp, path, destinationBackupFileName: null); // rename(2): atomic on Linux
                }
                finally
                {
                    if (File.Exists(temp)) File.Delete(temp);
                }
            }
            return result;
        }

        /// <summary>Patches an in-memory ELF image; <paramref name="name"/> is used only in error messages.</summary>
        public static Result PatchImage(byte[] image, string name, IReadOnlyDictionary<string, HashSet<string>> providedVersions)
        {
            var elf = new Elf64(image, name);
            var result = new Result();
            Section? verneed = elf.Sections.FirstOrDefault(s => s.Type == ShtGnuVerneed);
            if (verneed == null) return result;

            Dictionary<int, List<string>> symbolsByVersionIndex = elf.SymbolsByVersionIndex();
            Section strtab = elf.Section((int)verneed.Link);
            long need = verneed.Offset;
            for (int i = 0; i < (int)verneed.Info; i++)
            {
                ushort count = elf.U16(need + 2);
                string file = elf.String(strtab, elf.U32(need + 4));
                long aux = need + elf.U32(need + 8);
                providedVersions.TryGetValue(file, out HashSet<string>? provided);
                for (int j = 0; j < count; j++)
                {
                    ushort flags = elf.U16(aux + 4);
                    ushort index = elf.U16(aux + 6);
                    string version = elf.String(strtab, elf.U32(aux + 8));
                    bool missing = provided == null || !provided.Contains(version);
                    if (missing && provided != null && (flags & VerFlagWeak) == 0)
                    {
                        symbolsByVersionIndex.TryGetValue(index, out List<string>? symbols);
                        bool onlyUnused = symbols != null && symbols.All(s => KnownUnusedSymbols.Contains(s));
                        if (onlyUnused)
                        {
                            elf.W16(aux + 4, (ushort)(flags | VerFlagWeak));
                            result.Weakened.Add(version);
                        }
                        else
                        {
                            result.LeftRequired.Add(version);
                        }
                    }
                    uint nextAux = elf.U32(aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = elf.U32(need + 12);
                if (next == 0) break;
                need += next;
            }
            return result;
        }

        /// <summary>Reads the version names a shared library defines (its <c>.gnu.version_d</c> section).</summary>
        public static HashSet<string> DefinedVersions(string path)
        {
            var elf = new Elf64(File.ReadAllBytes(path), path);
            var versions = new HashSet<string>(StringComparer.Ordinal);
            Section? verdef = elf.Sections.FirstOrDefault(s => s.Type == ShtGnuVerdef);
            if (verdef == null) return versions;
            Section strtab = elf.Section((int)verdef.Link);
            long def = verdef.Offset;
            for (int i = 0; i < (int)verdef.Info; i++)
            {
                long aux = def + elf.U32(def + 12);
                versions.Add(elf.String(strtab, elf.U32(aux)));
                uint next = elf.U32(def + 16);
                if (next == 0) break;
                def += next;
            }
            return versions;
        }

        /// <summary>
        /// Finds the libstdc++ the dynamic loader would use (LD_LIBRARY_PATH, then the usual system folders)
        /// and returns its defined versions keyed by soname, or an empty map when none is found.
        /// </summary>
        public static Dictionary<string, HashSet<string>> SystemProvidedVersions()
        {
            var map = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            const string soname = "libstdc++.so.6";
            var folders = new List<string>();
            string? ldPath = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(ldPath)) folders.AddRange(ldPath.Split(':').Where(p => p.Length > 0));
            folders.AddRange(new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib" });
            foreach (string folder in folders)
            {
                string candidate = Path.Combine(folder, soname);
                if (!File.Exists(candidate)) continue;
                try
                {
                    map[soname] = DefinedVersions(candidate);
                    break;
                }
                catch (InvalidDataException)
                {
                    // A library of another architecture or a broken file: keep looking.
                }
            }
            return map;
        }

        sealed class Section
        {
            public uint Type;
            public long Offset;
            public long Size;
            public uint Link;
            public uint Info;
            public long EntrySize;
        }

        /// <summary>A bounds-checked little-endian ELF64 view; every read past the end is an InvalidDataException.</summary>
        sealed class Elf64
        {
            readonly byte[] _b;
            readonly string _name;
            public readonly List<Section> Sections = new List<Section>();

            public Elf64(byte[] bytes, string name)
            {
                _b = bytes;
                _name = name;
                if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                    throw Bad("not an ELF file");
                if (bytes[4] != 2 || bytes[5] != 1) throw Bad("only little-endian 64-bit ELF files are supported");
                long shoff = (long)U64(0x28);
                ushort shentsize = U16(0x3A), shnum = U16(0x3C);
                if (shentsize < 64) throw Bad($"section header size {shentsize} is too small");
                for (int i = 0; i < shnum; i++)
                {
                    long h = shoff + (long)i * shentsize;
                    Sections.Add(new Section
                    {
                        Type = U32(h + 4),
                        Offset = (long)U64(h + 0x18),
                        Size = (long)U64(h + 0x20),
                        Link = U32(h + 0x28),
                        Info = U32(h + 0x2C),
                        EntrySize = (long)U64(h + 0x38),
                    });
                }
            }

            public Section Section(int index) =>
                index >= 0 && index < Sections.Count ? Sections[index] : throw Bad($"section index {index} out of range");

            public Dictionary<int, List<string>> SymbolsByVersionIndex()
            {
                var map = new Dictionary<int, List<string>>();
                Section? dynsym = Sections.FirstOrDefault(s => s.Type == ShtDynsym);
                Section? versym = Sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
                if (dynsym == null || versym == null || dynsym.EntrySize == 0) return map;
                Section strtab = Section((int)dynsym.Link);
                long count = dynsym.Size / dynsym.EntrySize;
                for (long i = 1; i < count; i++)
                {
                    int index = U16(versym.Offset + 2 * i) & 0x7fff;
                    if (index < 2) continue; // 0 = local, 1 = global (unversioned)
                    string symbol = String(strtab, U32(dynsym.Offset + i * dynsym.EntrySize));
                    if (!map.TryGetValue(index, out List<string>? list)) map[index] = list = new List<string>();
                    list.Add(symbol);
                }
                return map;
            }

            public string String(Section strtab, uint offset)
            {
                long start = strtab.Offset + offset;
                Check(start, 1);
                long end = start;
                while (end < _b.Length && _b[end] != 0) end++;
                if (end >= _b.Length) throw Bad("unterminated string");
                return Encoding.ASCII.GetString(_b, (int)start, (int)(end - start));
            }

            public ushort U16(long at) { Check(at, 2); return (ushort)(_b[at] | _b[at + 1] << 8); }
            public uint U32(long at) { Check(at, 4); return (uint)(U16(at) | U16(at + 2) << 16); }
            public ulong U64(long at) { Check(at, 8); return U32(at) | (ulong)U32(at + 4) << 32; }
            public void W16(long at, ushort value) { Check(at, 2); _b[at] = (byte)value; _b[at + 1] = (byte)(value >> 8); }

            void Check(long at, int size)
            {
                if (at < 0 || at + size > _b.Length) throw Bad($"offset {at} is past the end ({_b.Length} bytes)");
            }

            InvalidDataException Bad(string what) => new InvalidDataException($"{_name}: {what}.");
        }
    }

#if !TRANSFORMER2_LIBRARY
    /// <summary>MSBuild task: patches every libLibTorchSharp.so under <see cref="Folder"/>.</summary>
    public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>The output folder to scan.</summary>
        [Microsoft.Build.Framework.Required]
        public string Folder { get; set; } = "";

        /// <inheritdoc />
        public override bool Execute()
        {
            if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux) || !Directory.Exists(Folder)) return true;
            var provided = ElfVersionPatcher.SystemProvidedVersions();
            foreach (string file in Directory.EnumerateFiles(Folder, "libLibTorchSharp.so", SearchOption.AllDirectories))
            {
                try
                {
                    var result = ElfVersionPatcher.PatchFile(file, provided);
                    if (result.Changed)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                            $"Transformer2: marked {string.Join(", ", result.Weakened)} weak in {file} (system libstdc++ lacks it; only unused symbols need it).");
                    foreach (string version in result.LeftRequired)
                        Log.LogWarning($"Transformer2: {file} needs {version}, which the system libstdc++ lacks; install a newer libstdc++.");
                }
                catch (Exception e) when (e is InvalidDataException || e is IOException || e is UnauthorizedAccessException)
                {
                    Log.LogWarning($"Transformer2: could not patch {file}: {e.Message}");
                }
            }
            return true;
        }
    }
#endif
}
