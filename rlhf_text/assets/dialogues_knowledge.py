"""Science, programming and study/work dialogues for the embedded default dataset.

Format (parsed by :func:`rlhf_text.default_data.parse_dialogues`): ``@ topic | phrase`` starts a
topic (the phrase completes "a question about ..."); ``how:``, ``what:`` and ``why:`` lines give
a subject that question templates turn into prompts; ``ask:`` lines give literal questions
separated by ``|``; each ``=`` line is one chosen answer; an indented line continues the line
above.
"""

DIALOGUES = """
@ science | science
why: the sky is blue
= Sunlight is scattered by air molecules, and blue light scatters much more than red light, so
  the sky looks blue.
= Air scatters short blue waves of light more strongly than the other colors, spreading blue
  across the sky.
what: photosynthesis
= Photosynthesis is how plants use sunlight, water and carbon dioxide to make sugar and release
  oxygen.
= It is the process in green leaves that turns light energy into food for the plant, giving off
  oxygen.
why: we have seasons
= Earth's axis is tilted, so during the year each half of the planet gets more direct sunlight
  in summer and less in winter.
= The tilt of Earth makes sunlight hit each hemisphere at a steeper or lower angle as we orbit
  the Sun.
what: gravity
= Gravity is the force that pulls objects with mass toward each other; it keeps us on the ground
  and the Moon in orbit.
= It is the pull between masses, the reason things fall and planets circle the Sun.
what: DNA
= DNA is the molecule inside cells that carries the genetic instructions for how living things
  grow and work.
= It is a long, twisted molecule in every cell that stores the code passed from parents to
  children.
why: ice floats on water
= When water freezes, its molecules form an open pattern that takes up more space, so ice is
  less dense than liquid water.
= Ice is lighter than the same volume of liquid water because frozen molecules sit farther
  apart.
ask: How far is the Moon from Earth? | What is the distance to the Moon?
= The Moon is about 384,000 kilometers from Earth on average, roughly thirty times the width of
  our planet.
= On average it is about 384,000 kilometers away; light covers that distance in just over one
  second.
what: an atom
= An atom is the smallest unit of an element, with a nucleus of protons and neutrons surrounded
  by electrons.
= It is a tiny building block of matter, made of a dense center and electrons moving around it.
why: the Moon has phases
= As the Moon orbits Earth, we see different parts of its sunlit side, so it seems to grow and
  shrink each month.
= Half of the Moon is always lit by the Sun, and the part of that half facing us changes during
  its orbit.
what: a black hole
= A black hole is a region in space where gravity is so strong that nothing, not even light, can
  escape.
= It forms when a very large star collapses, packing huge mass into a tiny space with extreme
  gravity.
ask: How many planets are in our solar system? | What are the planets in the solar system?
= There are eight planets: Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus and Neptune.
= Our solar system has eight planets; Jupiter is the largest and Mercury is the closest to the
  Sun.
why: leaves change color in autumn
= In autumn trees stop making green chlorophyll, so yellow and orange pigments that were hidden
  in the leaves show through.
= Shorter days make the green pigment break down, revealing other colors, and some trees also
  produce red pigments.
what: the speed of light
= Light travels at about 300,000 kilometers per second in empty space, the fastest speed in the
  universe.
= It is about 300,000 kilometers each second, so sunlight takes around eight minutes to reach
  Earth.
why: the ocean is salty
= Rain washes minerals from rocks into rivers, which carry salt to the sea; the water evaporates
  but the salt stays behind.
= Salt from land and undersea vents builds up in the ocean because evaporation removes water but
  leaves minerals.
what: an ecosystem
= An ecosystem is a community of living things, like plants, animals and microbes, together with
  their environment.
= It is a place where organisms interact with each other and with soil, water and climate, such
  as a forest or pond.
why: we see lightning before we hear thunder
= Light travels far faster than sound, so the flash reaches you almost at once while thunder
  takes about three seconds per kilometer.
= Sound is much slower than light; counting seconds between flash and boom tells you how far
  away the storm is.
what: evaporation
= Evaporation is when a liquid turns into a gas at its surface, like puddles drying in the sun.
= It is the change of water into vapor as it absorbs heat, a key part of the water cycle.
ask: What is the boiling point of water? | At what temperature does water boil?
= Water boils at 100 C, or 212 F, at sea level; at high altitude it boils at a lower
  temperature.
= At normal air pressure water boils at 100 degrees Celsius, but on a tall mountain it boils a
  few degrees cooler.
why: metals feel cold to the touch
= Metals conduct heat very well, so they pull warmth from your skin quickly and feel colder than
  wood at the same temperature.
= Metal moves heat away from your hand faster than most materials, which your skin senses as
  cold.
what: a vaccine
= A vaccine trains the immune system to recognize a germ, using a harmless piece or weakened
  form of it, so the body can fight it later.
= It is a medicine that teaches your body to defend itself against a disease before you ever
  catch it.

@ programming | programming
how: reverse a list in Python
= Call my_list.reverse() to reverse it in place, or use my_list[::-1] to get a new reversed
  copy.
= Use the reverse method of the list, or slicing with a step of minus one to make a reversed
  copy.
what: a variable in programming
= A variable is a name that stores a value, like a number or text, so your program can use and
  change it later.
= It is a labeled box in memory; for example, age = 30 stores the number 30 under the name age.
how: start learning to code
= Pick one beginner friendly language like Python, follow a short course, and build small
  projects such as a calculator.
= Start with Python, practice a little every day, and write tiny programs that solve real
  problems you have.
what: a function in programming
= A function is a named block of code that does one task, takes inputs, and can return a result
  you reuse.
= It groups steps under a name so you can call them many times instead of copying code around.
how: find a bug in my code
= Read the error message, reproduce the problem with a small input, print values step by step,
  and use a debugger.
= Test small parts alone, check your assumptions with print statements, and compare what happens
  with what you expected.
what: Git
= Git is a version control tool that tracks changes to your files, so you can go back to older
  versions and work with others.
= It records the history of a project in commits and lets many people work on the same code
  safely.
ask: Why does Python give me an IndentationError? | What does IndentationError mean in Python?
= Python uses indentation to group code, so the error means a line has the wrong number of
  spaces or mixes tabs and spaces.
= The lines in a block are not aligned the same way; use four spaces for each level and never
  mix tabs with spaces.
what: a loop in programming
= A loop repeats a block of code, either for each item in a collection or while a condition
  stays true.
= It runs the same steps many times, like a for loop that visits every item in a list.
how: write clean code
= Use clear names, keep functions short and focused on one task, remove duplicate code, and add
  tests.
= Name things by what they mean, split long functions, write comments that explain why, and
  format code consistently.
what: an API
= An API is a set of rules that lets one program talk to another, such as an app asking a
  weather service for the forecast.
= It is an interface a program offers so other code can request data or actions without knowing
  the inside details.
how: read a file in Python
= Use with open("data.txt") as f: text = f.read(), which opens the file and closes it for you
  when done.
= Open it in a with block, then call read for the whole text or loop over the file object line
  by line.
ask: What is the difference between a list and a tuple in Python? | When should I use a tuple
  instead of a list?
= A list can be changed after you create it, while a tuple cannot; use tuples for fixed groups
  of values.
= Lists are mutable and use square brackets, tuples are immutable and use round brackets, so
  tuples can be dictionary keys.
why: programmers write tests
= Tests check that code does what it should, catch bugs early, and let you change code later
  without breaking things.
= Automated tests give quick feedback and confidence, so mistakes are found before users see
  them.
what: a database
= A database is an organized store of data that programs can search and update quickly, like a
  table of customers and orders.
= It is software that saves information in a structured way, often in tables you query with SQL.
how: learn SQL
= Start with SELECT, WHERE and ORDER BY on a sample database, then learn JOIN and GROUP BY with
  small practice questions.
= Install a free database like SQLite, load sample data, and practice queries every day, adding
  joins once basics feel easy.
what: recursion
= Recursion is when a function calls itself on a smaller version of the problem until it reaches
  a simple base case.
= It solves a task by breaking it into smaller copies of itself, like computing a factorial from
  the factorial of a smaller number.
how: make my program run faster
= First measure with a profiler to find the slow part, then use a better algorithm or data
  structure there.
= Profile it, fix the hottest loop, avoid repeated work by caching results, and use sets for
  fast lookups.
what: an algorithm
= An algorithm is a clear list of steps that solves a problem, like a recipe for sorting numbers
  or finding a route.
= It is a precise procedure a computer follows to turn inputs into the correct output.
how: use a dictionary in Python
= Create one like ages = {"ann": 30}, read a value with ages["ann"], and add a key by writing
  ages["bob"] = 25.
= A dictionary maps keys to values; use square brackets to read or set an item and the get
  method for a default.
ask: Why does my code work on my computer but not on the server? | My program runs locally but
  fails on the server. Why?
= The two machines probably differ in versions, settings or files; pin your package versions and
  check the server's error logs.
= Often the server has a different language version, missing packages or environment variables;
  compare them and read its logs.

@ study | studying and work
how: study for an exam
= Start a few weeks early, test yourself with practice questions, space your review over several
  days, and sleep well before the exam.
= Make a schedule, recall facts from memory instead of rereading, and do past papers under timed
  conditions.
how: remember what I read
= Summarize each chapter in your own words, quiz yourself later, and explain the ideas to
  someone else.
= Take short notes, review them after a day and a week, and connect new ideas to things you
  already know.
how: stop procrastinating
= Break the task into tiny steps, start with just five minutes, put your phone away, and reward
  yourself when you finish a step.
= Pick the first small action, set a timer for twenty five minutes, and work until it rings with
  no distractions.
what: the Pomodoro technique
= The Pomodoro technique means working for twenty five minutes, then taking a five minute break,
  with a longer break after four rounds.
= It is a time method where you focus in short timed blocks with small breaks, which helps you
  start and stay focused.
how: write a good essay
= Start with a clear thesis, plan each paragraph around one point with evidence, and end with a
  conclusion that ties it together.
= Outline first, write a strong opening claim, support it with examples, and revise for clarity
  after a break.
how: prepare for a job interview
= Research the company, practice answers to common questions, prepare examples of your work, and
  have a few questions ready to ask.
= Learn about the role, rehearse short stories about your results, dress neatly, and arrive ten
  minutes early.
how: learn a new language
= Practice a little every day, learn the most common words first, listen to simple audio, and
  speak with others as soon as you can.
= Use spaced review for vocabulary, watch shows with subtitles, and talk with a language partner
  each week.
how: take better notes in class
= Write key ideas in your own words, use headings and short lists, leave space for questions,
  and review the notes the same day.
= Focus on main points, not every word, mark what you do not understand, and rewrite a short
  summary after class.
why: sleep helps learning
= While you sleep, the brain replays and strengthens new memories, so a good night after
  studying helps you remember.
= Sleep moves new facts into long term memory, and tired students learn and recall less.
how: give a good presentation
= Know your main message, use simple slides with few words, practice out loud several times, and
  look at the audience.
= Tell a clear story with three key points, rehearse with a timer, and speak slowly with pauses.
what: a resume
= A resume is a short document that lists your work experience, education and skills for a job
  application.
= It is a one or two page summary of your jobs, studies and abilities that employers read first.
how: write a resume
= Keep it to one page, list recent jobs first with results in numbers, add key skills, and fit
  it to each job ad.
= Use a clean layout, short bullet points that start with action verbs, and remove anything not
  related to the role.
how: manage my time better
= Write a daily list, do the most important task first, group small tasks together, and block
  time in your calendar.
= Plan your week on Sunday, put big tasks in your best hours, and say no to things that do not
  fit your goals.
how: focus while working from home
= Keep a fixed workspace and schedule, close extra tabs, silence your phone, and take short
  breaks away from the desk.
= Dress for work, set clear start and end times, and use a timer to work in focused blocks.
what: active recall
= Active recall is a study method where you test yourself by pulling answers from memory instead
  of rereading notes.
= It means closing the book and trying to bring back the material yourself, which makes memories
  stronger.
how: ask for feedback at work
= Ask a specific question, such as what you could improve in your last report, listen without
  arguing, and thank the person.
= Choose a good moment, request one or two concrete points, and follow up later to show what you
  changed.
how: read faster
= Read more often, preview headings first, avoid going back over lines, and skim parts that
  matter less to you.
= Practice daily with easy books, use a finger or pen to guide your eyes, and focus on main
  ideas.
why: taking breaks improves focus
= Attention fades after long periods, and short breaks let the brain rest, so you return with
  more energy and fewer mistakes.
= A few minutes away from a task restores focus, reduces fatigue, and often helps you see
  problems in a new way.
how: make friends at a new job
= Say hello to people, eat lunch with coworkers, ask about their work, and offer to help when
  you can.
= Be friendly and curious, join team events, and remember small details people tell you.
how: choose a career
= List what you enjoy and what you are good at, research jobs that match, and talk with people
  who do that work.
= Try internships or short courses to test your interests, and look at pay, demand and the daily
  tasks of each job.
"""
